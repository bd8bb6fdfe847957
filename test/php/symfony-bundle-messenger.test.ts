import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT } from "jose";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { freePort, startRedisServer, which, type ServerProcess } from "../helpers/processes.js";
import { fileExists, requireTools } from "../helpers/require.js";
import { canRunSymfonyBundle, startSymfonyBundleApp, type SymfonyBundleApp } from "../helpers/symfony-bundle-app.js";
import { TestWsClient } from "../helpers/ws-client.js";

/**
 * The bundle's Messenger side in the real app (test/symfony-bundle) with a real Redis transport
 * and a real hub: a controller queues RealtimeHub\Bundle\Messenger\Publish, `messenger:consume`
 * publishes it once; a permanent hub error is not retried, a temporary one is. And the app's own
 * PHPUnit tests, which use the bundle's test double (realtime.test) instead of a hub.
 */

const API_KEY = "symfony-bundle-messenger-api-key";
const TOKEN_SECRET = "symfony-bundle-messenger-secret-32b!";

interface WorkerEvent {
  event: "handled" | "failed";
  channel: string;
  idempotencyKey: string;
  retryCount: number;
  willRetry: boolean;
  exception: string | null;
  previous: string | null;
  message: string | null;
}

const canRun =
  canRunSymfonyBundle("Symfony bundle: Messenger") &&
  requireTools("Symfony bundle: Messenger", {
    "redis-server (Debian package redis-server)": which("redis-server") !== null,
    "ext-redis (Debian package php-redis)": which("php") !== null && spawnSync("php", ["-r", "exit(extension_loaded('redis') ? 0 : 1);"]).status === 0,
    "symfony/redis-messenger (Debian package php-symfony-redis-messenger)": fileExists("/usr/share/php/Symfony/Component/Messenger/Bridge/Redis/autoload.php"),
  });

describe.runIf(canRun)("Symfony bundle: publishing through Messenger", () => {
  let hub: TestHub;
  let redis: ServerProcess & { url: string };
  let app: SymfonyBundleApp;
  const token = (sub: string) => new SignJWT({ sub }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("10m").sign(new TextEncoder().encode(TOKEN_SECRET));
  /** What MessengerWorkerRecorder wrote: one line per message the worker handled or failed. */
  const workerEvents = (channel: string): WorkerEvent[] => {
    const file = join(app.varDir, "messenger-events.jsonl");
    if (!existsSync(file)) return [];
    return readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as WorkerEvent).filter((e) => e.channel === channel);
  };
  const queue = async (channel: string, title: string, twice = false) => {
    const res = await fetch(`${app.url}/messenger/publish${twice ? "?twice=1" : ""}`, { method: "POST", body: new URLSearchParams({ channel, title }) });
    const body = await res.text();
    expect(res.status, `${body}\n${app.output()}`).toBe(202);
    return JSON.parse(body) as { idempotencyKey: string };
  };
  const consume = async (limit: number, timeLimit: number, env: Record<string, string> = {}) => {
    const r = await app.console(["messenger:consume", "async", `--limit=${limit}`, `--time-limit=${timeLimit}`], { env, timeoutMs: (timeLimit + 30) * 1000 });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    return r;
  };

  beforeAll(async () => {
    hub = await startTestHub({ apiKey: API_KEY, allowAnonymous: false, tokenHmacSecret: TOKEN_SECRET });
    redis = await startRedisServer();
    app = await startSymfonyBundleApp({
      REALTIME_DSN: hub.httpUrl,
      REALTIME_API_KEY: API_KEY,
      REALTIME_TOKEN_SECRET: TOKEN_SECRET,
      MESSENGER_TRANSPORT_DSN: `${redis.url}/messages?delete_after_ack=true`,
      MESSENGER_FAILED_DSN: `${redis.url}/failed?delete_after_ack=true`,
    });
  }, 180_000);
  afterAll(async () => {
    await app?.stop();
    await redis?.stop();
    await hub?.stop();
  });

  it("a queued Publish is published by messenger:consume, once although it was queued twice with its key", async () => {
    const channel = `messenger:${Date.now()}`;
    const c = await TestWsClient.connect(hub.wsUrl, await token("reader"));
    try {
      expect((await c.call({ subscribe: { channel } })).error).toBeUndefined();
      const { idempotencyKey } = await queue(channel, "queued", true);
      // Only queued: nothing reaches the hub before a worker runs.
      await new Promise((r) => setTimeout(r, 300));
      expect(c.pubs(channel)).toEqual([]);

      await consume(2, 20);
      const pub = await c.waitFor((m) => m.push?.pub && m.push.channel === channel);
      expect(pub.push.pub.data).toEqual({ title: "queued" });
      // Both copies were handled; the second with the same key was not delivered again.
      const events = workerEvents(channel);
      expect(events.map((e) => [e.event, e.idempotencyKey])).toEqual([
        ["handled", idempotencyKey],
        ["handled", idempotencyKey],
      ]);
      await c.call({ ping: {} }); // a round trip: anything already sent to this client has arrived
      expect(c.pubs(channel)).toHaveLength(1);
    } finally {
      c.close();
    }
  }, 90_000);

  it("a permanent hub error (a bad channel name) is not retried: the message goes to the failure transport", async () => {
    const channel = `bad channel ${Date.now()}`;
    await queue(channel, "never");
    await consume(1, 15);
    let events = workerEvents(channel);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      event: "failed",
      willRetry: false,
      retryCount: 0,
      exception: "Symfony\\Component\\Messenger\\Exception\\UnrecoverableMessageHandlingException",
      previous: "RealtimeHub\\Client\\Exception\\BadRequestException",
    });
    expect(events[0]!.message).toContain("code 107");

    // Nothing comes back to the worker: the queue is empty (it stops on its time limit, no message).
    await consume(1, 3);
    events = workerEvents(channel);
    expect(events).toHaveLength(1);
    // It is in the failure transport: consuming that one hands it to the handler once more.
    const again = await app.console(["messenger:consume", "failed", "--limit=1", "--time-limit=10"], { timeoutMs: 60_000 });
    expect(again.code, `${again.stdout}\n${again.stderr}`).toBe(0);
    events = workerEvents(channel);
    expect(events.map((e) => [e.event, e.willRetry])).toEqual([
      ["failed", false],
      ["failed", false],
    ]);
  }, 90_000);

  it("a temporary failure (the hub out of reach) is retried, and the retry is delivered", async () => {
    const channel = `messenger-retry:${Date.now()}`;
    const c = await TestWsClient.connect(hub.wsUrl, await token("reader"));
    try {
      expect((await c.call({ subscribe: { channel } })).error).toBeUndefined();
      const { idempotencyKey } = await queue(channel, "after a retry");
      // The first worker cannot reach the hub: a closed port.
      await consume(1, 20, { REALTIME_DSN: `http://127.0.0.1:${await freePort()}` });
      let events = workerEvents(channel);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ event: "failed", willRetry: true, retryCount: 0, idempotencyKey });
      expect(events[0]!.exception).toMatch(/^RealtimeHub\\Client\\Exception\\/);
      expect(c.pubs(channel)).toEqual([]);

      // The next worker reaches it: the retry (retry_strategy delay 200 ms) is published.
      await consume(1, 20);
      events = workerEvents(channel);
      expect(events.map((e) => [e.event, e.retryCount])).toEqual([
        ["failed", 0],
        ["handled", 1],
      ]);
      const pub = await c.waitFor((m) => m.push?.pub && m.push.channel === channel);
      expect(pub.push.pub.data).toEqual({ title: "after a retry" });
      expect(c.pubs(channel)).toHaveLength(1);
    } finally {
      c.close();
    }
  }, 120_000);

  it("the app's own PHPUnit tests pass with the bundle's test double (test env, realtime.test: true, no hub)", async () => {
    const config = fileURLToPath(new URL("../symfony-bundle/tests/phpunit.xml.dist", import.meta.url));
    // REALTIME_DSN points nowhere: a test that reached for the real hub would fail.
    const r = await app.run("/usr/bin/phpunit", ["--configuration", config, "--do-not-cache-result"], { env: { REALTIME_DSN: "http://127.0.0.1:1" }, timeoutMs: 120_000 });
    const output = `${r.stdout}\n${r.stderr}`;
    expect(r.code, output).toBe(0);
    const ok = /^OK \((\d+) tests, \d+ assertions\)/m.exec(output);
    expect(ok, output).not.toBeNull();
    expect(Number(ok![1]), output).toBeGreaterThanOrEqual(4);
  }, 150_000);
});
