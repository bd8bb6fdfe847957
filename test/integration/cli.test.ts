import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { TestWsClient } from "../helpers/ws-client.js";
import { hubRedisClients, startRedisServer, which } from "../helpers/processes.js";
import { requireTools } from "../helpers/require.js";
import { namespaceDocs, settingDocs } from "../../src/config.js";

const MAIN = fileURLToPath(new URL("../../dist/src/main.js", import.meta.url));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe("realtime-hub CLI", () => {
  it("refuses to serve without an API key outside --dev, naming the setting", () => {
    const r = spawnSync(process.execPath, [MAIN, "serve"], { encoding: "utf8", env: { PATH: process.env.PATH } });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/apiKey: the server API needs an API key/);
  });

  it("rejects unknown flags and bad values with a clear message", () => {
    const r = spawnSync(process.execPath, [MAIN, "serve", "--dev", "--broker", "carrier-pigeon"], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--broker: must be one of memory/);
    const u = spawnSync(process.execPath, [MAIN, "serve", "--bogus"], { encoding: "utf8" });
    expect(u.stderr).toMatch(/unknown flag --bogus/);
  });

  it("says which address is taken when it cannot listen", async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", () => r()));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = spawnSync(process.execPath, [MAIN, "serve", "--dev", "--http-addr", `127.0.0.1:${port}`, "--grpc-addr", `127.0.0.1:${await freePort()}`], { encoding: "utf8" });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`httpAddr 127.0.0.1:${port}: listen EADDRINUSE`));
    } finally {
      taken.close();
    }
  });

  it("mints a token", () => {
    const r = spawnSync(process.execPath, [MAIN, "token", "--user", "42", "--token-hmac-secret", "s"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    const [, payload] = r.stdout.trim().split(".");
    expect(JSON.parse(Buffer.from(payload!, "base64url").toString()).sub).toBe("42");
  });

  it("help prints every flag with its env var, default and doc, and the namespace options", () => {
    const r = spawnSync(process.execPath, [MAIN, "help"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    const lines = r.stdout.split("\n");
    for (const d of settingDocs()) {
      const i = lines.findIndex((l) => l.startsWith(`  ${d.flag} `));
      expect(i, d.flag).toBeGreaterThan(0);
      expect(lines[i], d.flag).toContain(`[${d.env}]  default: ${d.default}`);
      expect(lines[i + 1], d.flag).toBe(`      ${d.doc.replaceAll("`", "")}`);
    }
    for (const d of namespaceDocs()) expect(r.stdout).toContain(`  ${d.key}: `);
    expect(spawnSync(process.execPath, [MAIN], { encoding: "utf8" }).stdout).toBe(r.stdout);
  });

  it("mints a token with the secret from REALTIME_TOKEN_HMAC_SECRET, a channel, a ttl and info", async () => {
    const r = spawnSync(process.execPath, [MAIN, "token", "--user=7", "--channel", "private:7", "--ttl", "60", "--info", '{"name":"Ann"}'], {
      encoding: "utf8",
      env: { PATH: process.env.PATH, REALTIME_TOKEN_HMAC_SECRET: "env-secret" },
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const { jwtVerify } = await import("jose");
    const { payload } = await jwtVerify(r.stdout.trim(), new TextEncoder().encode("env-secret"));
    expect(payload).toMatchObject({ sub: "7", channel: "private:7", info: { name: "Ann" } });
    expect(payload.exp! - payload.iat!).toBe(60);
    // --ttl 0: no expiry.
    const forever = spawnSync(process.execPath, [MAIN, "token", "--user", "7", "--ttl", "0", "--token-hmac-secret", "s"], { encoding: "utf8" });
    expect(JSON.parse(Buffer.from(forever.stdout.trim().split(".")[1]!, "base64url").toString()).exp).toBeUndefined();
  });

  it.each([
    [["--user", "42", "--usr", "x"], /^realtime-hub: token: unknown flag --usr$/],
    [["--token-hmac-secret", "s", "--user"], /^realtime-hub: token: flag --user needs a value$/],
    [["--user", "42"], /^realtime-hub: token: --token-hmac-secret \(or REALTIME_TOKEN_HMAC_SECRET\) is required, or --private-key-file$/],
    [["--token-hmac-secret", "s"], /^realtime-hub: token: --user is required$/],
    [["--user", "42", "--token-hmac-secret", "s", "--ttl", "soon"], /^realtime-hub: token: --ttl: must be a non-negative number, got "soon"$/],
    [["--user", "42", "--token-hmac-secret", "s", "--ttl", "1.5"], /^realtime-hub: token: --ttl: must be a whole number of seconds/],
    [["--user", "42", "--token-hmac-secret", "s", "--info", "{name"], /^realtime-hub: token: --info: must be JSON, got "\{name"$/],
  ])("token %j: refused with a clear message and exit code 2", (args, message) => {
    const r = spawnSync(process.execPath, [MAIN, "token", ...args], { encoding: "utf8", env: { PATH: process.env.PATH } });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim()).toMatch(message);
  });

  it.each(["SIGTERM", "SIGINT"] as const)("serves in --dev, warns loudly, and shuts down gracefully on %s", async (signal) => {
    const hub = await serve([]);
    try {
      expect(hub.output()).toMatch(/DEVELOPMENT MODE/);
      const c = await TestWsClient.connect(hub.wsUrl);
      await c.call({ subscribe: { channel: "cli" } });
      hub.child.kill(signal);
      const push = await c.waitFor((m) => m.push?.disconnect);
      expect(push.push.disconnect).toEqual({ code: 3001, reason: "shutdown", reconnect: true });
      expect(await c.waitClosed()).toBe(3001);
      expect(await hub.exited).toEqual({ code: 0, signal: null });
      expect(hub.output()).toContain(`"signal":"${signal}"`);
      expect(hub.output()).toMatch(/"msg":"stopped"/);
    } finally {
      hub.child.kill("SIGKILL");
    }
  });

  it("npm start's command hands SIGTERM to the hub: stopping npm leaves no hub serving behind", async () => {
    const { scripts } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { scripts: Record<string, string> };
    const [build, run, ...rest] = scripts.start!.split(" && ");
    expect([build, rest]).toEqual(["npm run build --silent", []]);
    // npm hands the signal to the shell that runs the script; unless the shell became the hub
    // (exec), the shell dies and the hub is orphaned, still on its ports.
    const hub = await serve([], run);
    try {
      hub.child.kill("SIGTERM");
      expect(await hub.exited).toEqual({ code: 0, signal: null });
      expect(hub.output()).toMatch(/"msg":"stopped"/);
    } finally {
      try {
        process.kill(-hub.child.pid!, "SIGKILL");
      } catch {
        // the group is gone: nothing was left behind
      }
    }
  });

  describe.runIf(requireTools("CLI with redis stores", { "redis-server": !!which("redis-server") }))("with --broker redis", () => {
    let redis: Awaited<ReturnType<typeof startRedisServer>>;
    beforeAll(async () => {
      redis = await startRedisServer();
    });
    afterAll(async () => redis && (await redis.stop()));

    it("closes its Redis connections and exits 0 on SIGTERM", async () => {
      const hub = await serve(["--broker", "redis", "--redis-url", redis.url]);
      const observer = new Redis(redis.url);
      try {
        const c = await TestWsClient.connect(hub.wsUrl);
        await c.call({ subscribe: { channel: "cli" } });
        // Broker, presence and history all on Redis: one command connection, one for pub/sub.
        expect((await hubRedisClients(observer)).sort()).toEqual(["realtime-hub:commands", "realtime-hub:pubsub"]);
        hub.child.kill("SIGTERM");
        expect((await c.waitFor((m) => m.push?.disconnect)).push.disconnect).toMatchObject({ code: 3001, reconnect: true });
        // Exit 0 and "stopped" only after the whole stop, stores closed included (that they are
        // closed before the exit, not by it, edge.test.ts checks in process).
        expect(await hub.exited).toEqual({ code: 0, signal: null });
        expect(hub.output()).toMatch(/"msg":"stopped"/);
        expect(await hubRedisClients(observer)).toEqual([]);
      } finally {
        observer.disconnect();
        hub.child.kill("SIGKILL");
      }
    });
  });
});

/**
 * `realtime-hub serve --dev` on free ports, once it logged that it started; with `shellCommand`
 * (a command line that serves, as package.json's start runs it), through `sh -c`, in a process
 * group of its own so the test can kill whatever it leaves.
 */
async function serve(args: string[], shellCommand?: string) {
  const [http, grpc] = [await freePort(), await freePort()];
  const addrs = ["--http-addr", `127.0.0.1:${http}`, "--grpc-addr", `127.0.0.1:${grpc}`];
  const child = shellCommand
    ? spawn("sh", ["-c", `${shellCommand} ${[...addrs, ...args].join(" ")}`], {
        cwd: fileURLToPath(new URL("../..", import.meta.url)),
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      })
    : spawn(process.execPath, [MAIN, "serve", "--dev", ...addrs, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once("exit", (code, signal) => r({ code, signal })));
  const end = Date.now() + 15_000;
  while (!out.includes("started")) {
    if (Date.now() > end || child.exitCode !== null) {
      child.kill("SIGKILL");
      throw new Error(`hub did not start: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, exited, output: () => out, wsUrl: `ws://127.0.0.1:${http}/connection/websocket` };
}
