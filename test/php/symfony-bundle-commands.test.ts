import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT } from "jose";
import { defaultNamespace } from "../../src/config.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { canRunSymfonyBundle, startSymfonyBundleApp, type SymfonyBundleApp } from "../helpers/symfony-bundle-app.js";
import { until } from "../helpers/until.js";
import { TestWsClient } from "../helpers/ws-client.js";

/**
 * The bundle's realtime:* commands in the real app (test/symfony-bundle) against a real hub
 * (--dev: presence and join/leave on every channel, an API key and tokens required):
 * what they print, what a WebSocket client sees, and how they fail.
 */

const API_KEY = "symfony-bundle-commands-api-key";
const TOKEN_SECRET = "symfony-bundle-commands-secret-32b!!";

interface Consumed {
  via: "event" | "messenger";
  kind: string;
  channel: string;
  user?: string;
  client?: string;
  data?: unknown;
  offset?: number;
  tags?: Record<string, string>;
}

describe.runIf(canRunSymfonyBundle("Symfony bundle: commands"))("Symfony bundle: realtime:* console commands", () => {
  let hub: TestHub;
  let app: SymfonyBundleApp;
  const token = (sub: string) => new SignJWT({ sub }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("10m").sign(new TextEncoder().encode(TOKEN_SECRET));
  const unique = (prefix: string) => `${prefix}:${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  const ok = async (args: string[], env: Record<string, string> = {}) => {
    const r = await app.console(args, { env, timeoutMs: 60_000 });
    expect(r.code, `bin/console ${args.join(" ")}\n${r.stdout}\n${r.stderr}`).toBe(0);
    return r.stdout;
  };
  /** What ConsumedEventRecorder wrote for this channel. */
  const consumed = (channel: string): Consumed[] => {
    const file = join(app.varDir, "consumed.jsonl");
    if (!existsSync(file)) return [];
    return readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Consumed).filter((e) => e.channel === channel);
  };
  /** realtime:consume on the gRPC transport (the HTTP API has no streams), its output collected. */
  const startConsumer = async (args: string[]) => {
    const child = app.spawnConsole(["realtime:consume", ...args], { env: { REALTIME_DSN: `grpc://${hub.grpcAddr}` } });
    const out = { stdout: "", stderr: "" };
    child.stdout!.on("data", (d) => (out.stdout += d));
    child.stderr!.on("data", (d) => (out.stderr += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once("exit", (code, signal) => r({ code, signal })));
    await until(() => out.stdout.includes("Consuming ") || child.exitCode !== null, { ms: 30_000, what: "realtime:consume to subscribe" });
    expect(out.stdout, out.stderr).toContain("Consuming ");
    return { child, out, exited };
  };
  const kill = (child: ChildProcess) => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };

  beforeAll(async () => {
    hub = await startTestHub({
      apiKey: API_KEY,
      allowAnonymous: false,
      tokenHmacSecret: TOKEN_SECRET,
      // private: channels only a subscription token opens.
      namespaces: [{ ...defaultNamespace("private"), private: true }],
    });
    app = await startSymfonyBundleApp({ REALTIME_DSN: hub.httpUrl, REALTIME_API_KEY: API_KEY, REALTIME_TOKEN_SECRET: TOKEN_SECRET });
  }, 180_000);
  afterAll(async () => {
    await app?.stop();
    await hub?.stop();
  });

  it("realtime:publish delivers JSON with tags to a WebSocket client, once per idempotency key", async () => {
    const channel = unique("cmd-publish");
    const c = await TestWsClient.connect(hub.wsUrl, await token("reader"));
    try {
      expect((await c.call({ subscribe: { channel } })).error).toBeUndefined();
      const first = await ok(["realtime:publish", channel, '{"title":"from the console"}', "--tag", "kind=headline", "--tag", "lang=en", "--idempotency-key", "console-key-1"]);
      expect(first).toMatch(new RegExp(`Published into ${channel}: offset 1, epoch \\S+, idempotency key console-key-1`));
      const again = await ok(["realtime:publish", channel, '{"title":"from the console"}', "--idempotency-key", "console-key-1"]);
      expect(again).toContain("offset 1,");
      await ok(["realtime:publish", channel, '{"last":true}', "--skip-history"]);
      await c.waitFor((m) => m.push?.pub?.data?.last === true);
      const pubs = c.pubs(channel);
      expect(pubs.map((p) => p.data)).toEqual([{ title: "from the console" }, { last: true }]);
      expect(pubs[0].tags).toEqual({ kind: "headline", lang: "en" });
    } finally {
      c.close();
    }
  }, 60_000);

  it("refuses bad input by name (exit 2) and reports the hub's error code and message (exit 1)", async () => {
    let r = await app.console(["realtime:publish", "news", "{not json"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("<data> is not valid JSON");
    r = await app.console(["realtime:publish", "news", "{}", "--tag", "no-equals-sign"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--tag "no-equals-sign" is not key=value');
    r = await app.console(["realtime:token", "alice", "--info", "{name: Alice}"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--info is not valid JSON");
    expect(r.stdout).toBe("");
    r = await app.console(["realtime:disconnect", "alice", "--code", "soon"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--code "soon" is not a number');

    r = await app.console(["realtime:publish", "no spaces allowed", "{}"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/realtime-hub error 107: .*invalid channel name "no spaces allowed"/);
    r = await app.console(["realtime:info"], { env: { REALTIME_API_KEY: "not-the-key" } });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/realtime-hub error 101: /);
  }, 60_000);

  it("realtime:presence, --stats, realtime:channels and realtime:info print what the hub knows", async () => {
    const channel = unique("cmd-presence");
    const a = await TestWsClient.connect(hub.wsUrl, await token("alice"));
    const b = await TestWsClient.connect(hub.wsUrl, await token("alice"));
    const carol = await TestWsClient.connect(hub.wsUrl, await token("carol"));
    try {
      for (const c of [a, b, carol]) expect((await c.call({ subscribe: { channel } })).error).toBeUndefined();
      const clientA = (await a.call({ presence: { channel } })).presence.presence;
      const presence = await ok(["realtime:presence", channel]);
      expect(presence).toContain(`3 clients in ${channel}`);
      for (const id of Object.keys(clientA)) expect(presence).toContain(id);
      expect(presence.match(/\| alice /g)).toHaveLength(2);
      expect(presence.match(/\| carol /g)).toHaveLength(1);
      expect(await ok(["realtime:presence", channel, "--stats"])).toContain(`${channel}: 3 clients, 2 users`);

      const prefix = channel.slice(0, channel.indexOf(":"));
      const channels = await ok(["realtime:channels", `${prefix}:*`]);
      expect(channels).toMatch(new RegExp(`${channel.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s+\\|\\s+3\\s`));
      expect(channels).toContain("1 channels");
      expect(await ok(["realtime:channels", "no-such-prefix-*"])).toContain("0 channels");

      const info = await ok(["realtime:info"]);
      expect(info).toMatch(/Node\s+\|\s+Version\s+\|\s+Clients/);
      // One node, with at least the three clients of this test.
      const row = info.split("\n").find((l) => /^\|\s+\S+\s+\|\s+\S+\s+\|\s+\d+/.test(l) && !l.includes("Node"));
      expect(row, info).toBeDefined();
      expect(Number(row!.split("|")[3]!.trim())).toBeGreaterThanOrEqual(3);
    } finally {
      for (const c of [a, b, carol]) c.close();
    }
  }, 60_000);

  it("realtime:disconnect closes the user's WebSocket connection", async () => {
    const mallory = await TestWsClient.connect(hub.wsUrl, await token("mallory"));
    const other = await TestWsClient.connect(hub.wsUrl, await token("bystander"));
    try {
      const out = await ok(["realtime:disconnect", "mallory", "--reason", "banned by the console"]);
      expect(out).toContain("Disconnected user mallory");
      const code = await mallory.waitClosed(5000);
      expect(code).toBeGreaterThanOrEqual(3000);
      expect(mallory.closeReason).toContain("banned by the console");
      // Only that user.
      expect((await other.call({ ping: {} })).error).toBeUndefined();
      expect(other.closeCode).toBeNull();
    } finally {
      mallory.close();
      other.close();
    }
  }, 60_000);

  it("realtime:erase-user removes the user's publications and closes their connections; others' stay", async () => {
    const channel = unique("cmd-erase");
    const erin = await TestWsClient.connect(hub.wsUrl, await token("erin"));
    const other = await TestWsClient.connect(hub.wsUrl, await token("frank"));
    try {
      for (const c of [erin, other]) expect((await c.call({ subscribe: { channel } })).error).toBeUndefined();
      for (const text of ["one", "two"]) expect((await erin.call({ publish: { channel, data: { text } } })).error).toBeUndefined();
      expect((await other.call({ publish: { channel, data: { text: "kept" } } })).error).toBeUndefined();
      const out = await ok(["realtime:erase-user", "erin"]);
      expect(out).toContain("Erased user erin: 2 publications");
      expect(await erin.waitClosed(5000)).toBeGreaterThanOrEqual(3000);
      const history = await other.call({ history: { channel, limit: 10 } });
      expect(history.history.publications.map((p: { data: unknown }) => p.data)).toEqual([{ text: "kept" }]);
      const refused = await app.console(["realtime:erase-user", ""]);
      expect(refused.code).toBe(2);
    } finally {
      erin.close();
      other.close();
    }
  }, 60_000);

  it("realtime:token mints a connection token the hub accepts (with its info) and a subscription token for one channel", async () => {
    const conn = (await ok(["realtime:token", "carol", "--info", '{"name":"Carol"}', "--ttl", "120"])).trim();
    expect(conn.split(".")).toHaveLength(3);
    const channel = unique("cmd-token");
    const c = await TestWsClient.connect(hub.wsUrl, conn);
    try {
      expect((await c.call({ subscribe: { channel } })).error).toBeUndefined();
      const presence = Object.values<{ user: string; connInfo?: unknown; conn_info?: unknown }>((await c.call({ presence: { channel } })).presence.presence);
      expect(presence).toHaveLength(1);
      expect(presence[0]!.user).toBe("carol");
      expect(presence[0]!.connInfo ?? presence[0]!.conn_info).toEqual({ name: "Carol" });

      const priv = unique("private");
      const sub = (await ok(["realtime:token", "carol", "--channel", priv])).trim();
      // The hub checks a subscription token: without one, or with one for another channel, no.
      expect((await c.call({ subscribe: { channel: priv } })).error).toBeDefined();
      const other = (await ok(["realtime:token", "carol", "--channel", unique("private")])).trim();
      expect((await c.call({ subscribe: { channel: priv, token: other } })).error).toBeDefined();
      const accepted = await c.call({ subscribe: { channel: priv, token: sub } });
      expect(accepted.error, JSON.stringify(accepted)).toBeUndefined();
    } finally {
      c.close();
    }
    // A token the hub refuses: signed with another secret (realtime.tokens.secret from the environment).
    const wrong = (await ok(["realtime:token", "carol"], { REALTIME_TOKEN_SECRET: "another-secret-of-at-least-32-bytes" })).trim();
    await expect(TestWsClient.connect(hub.wsUrl, wrong)).rejects.toThrow(/connect failed/);
  }, 60_000);

  it("realtime:consume dispatches a WebSocket client's join and publication as Symfony events, and stops at --limit", async () => {
    const channel = unique("cmd-consume");
    const consumer = await startConsumer([channel, "--join-leave", "--limit", "2", "--max-seconds", "30"]);
    const c = await TestWsClient.connect(hub.wsUrl, await token("dave"));
    try {
      expect((await c.call({ subscribe: { channel } })).error).toBeUndefined();
      expect((await c.call({ publish: { channel, data: { hello: "from a browser" } } })).error).toBeUndefined();
      const { code } = await consumer.exited;
      expect(code, `${consumer.out.stdout}\n${consumer.out.stderr}`).toBe(0);
      expect(consumer.out.stdout).toContain("Stopped after 2 events (--limit 2)");
      const got = consumed(channel);
      expect(got.map((e) => [e.via, e.kind, e.user])).toEqual([
        ["event", "ClientJoinedEvent", "dave"],
        ["event", "PublicationReceivedEvent", "dave"],
      ]);
      expect(got[1]!.data).toEqual({ hello: "from a browser" });
      expect(got[1]!.client).toBe(got[0]!.client);
      expect(got[1]!.offset).toBe(1);
    } finally {
      c.close();
      kill(consumer.child);
    }
  }, 60_000);

  it("realtime:consume --messenger hands publications to a Messenger handler; a failing listener does not stop the worker", async () => {
    const channel = unique("cmd-consume-messenger");
    const consumer = await startConsumer([channel, "--messenger", "--limit", "1", "--max-seconds", "30"]);
    try {
      await ok(["realtime:publish", channel, '{"n":1}']);
      expect((await consumer.exited).code, consumer.out.stderr).toBe(0);
      expect(consumed(channel).map((e) => [e.via, e.kind, e.data, e.user])).toEqual([["messenger", "PublicationReceivedEvent", { n: 1 }, ""]]);
    } finally {
      kill(consumer.child);
    }

    const failing = unique("cmd-consume-fail");
    const second = await startConsumer([failing, "--limit", "2", "--max-seconds", "30"]);
    try {
      await ok(["realtime:publish", failing, '{"fail":true}']);
      await ok(["realtime:publish", failing, '{"n":2}']);
      expect((await second.exited).code, second.out.stderr).toBe(0);
      expect(second.out.stderr).toContain("the listener failed, as asked");
      expect(consumed(failing).map((e) => e.data)).toEqual([{ n: 2 }]);
    } finally {
      kill(second.child);
    }
  }, 90_000);

  it("realtime:consume stops cleanly on SIGTERM once the event at hand is handled, and at --max-seconds", async () => {
    const channel = unique("cmd-consume-stop");
    const consumer = await startConsumer([channel, "--max-seconds", "60"]);
    try {
      await ok(["realtime:publish", channel, '{"sleep":1.5}']);
      await until(() => consumed(channel).some((e) => e.kind === "sleeping"), { ms: 15_000, what: "the listener to start" });
      consumer.child.kill("SIGTERM");
      const { code, signal } = await consumer.exited;
      expect({ code, signal }, `${consumer.out.stdout}\n${consumer.out.stderr}`).toEqual({ code: 0, signal: null });
      expect(consumer.out.stdout).toContain("Stopped after 1 events (SIGTERM)");
      // The listener finished its event before the worker stopped.
      expect(consumed(channel).map((e) => e.kind)).toEqual(["sleeping", "PublicationReceivedEvent"]);
    } finally {
      kill(consumer.child);
    }

    // Waiting on the stream, nothing arriving: the worker notices within a second or so
    // (curl's progress callback) and stops cleanly too.
    const waiting = await startConsumer([unique("cmd-consume-wait"), "--max-seconds", "60"]);
    try {
      const t = Date.now();
      waiting.child.kill("SIGTERM");
      const { code, signal } = await waiting.exited;
      expect({ code, signal }, `${waiting.out.stdout}\n${waiting.out.stderr}`).toEqual({ code: 0, signal: null });
      expect(waiting.out.stdout).toContain("Stopped after 0 events (SIGTERM)");
      expect(Date.now() - t).toBeLessThan(5000);
    } finally {
      kill(waiting.child);
    }

    const t0 = Date.now();
    const idle = await startConsumer([unique("cmd-consume-idle"), "--max-seconds", "2"]);
    try {
      expect((await idle.exited).code, idle.out.stderr).toBe(0);
      expect(idle.out.stdout).toContain("Stopped after 0 events (--max-seconds 2)");
      expect(Date.now() - t0).toBeLessThan(20_000);
    } finally {
      kill(idle.child);
    }
  }, 90_000);

  it("realtime:consume on the HTTP transport says it needs gRPC", async () => {
    const r = await app.console(["realtime:consume", "news", "--max-seconds", "1"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("realtime:consume needs the gRPC transport: set realtime.dsn to grpc://");
  }, 30_000);
});
