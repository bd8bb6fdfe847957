import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { TestWsClient } from "../helpers/ws-client.js";
import { hubRedisClients, startRedisServer, which } from "../helpers/processes.js";
import { requireTools } from "../helpers/require.js";

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

/** `realtime-hub serve --dev` on free ports, once it logged that it started. */
async function serve(args: string[]) {
  const [http, grpc] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [MAIN, "serve", "--dev", "--http-addr", `127.0.0.1:${http}`, "--grpc-addr", `127.0.0.1:${grpc}`, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
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
