import { describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { TestWsClient } from "../helpers/ws-client.js";

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

  it("serves in --dev, warns loudly, and shuts down gracefully on SIGTERM", async () => {
    const [http, grpc] = [await freePort(), await freePort()];
    const child = spawn(process.execPath, [MAIN, "serve", "--dev", "--http-addr", `127.0.0.1:${http}`, "--grpc-addr", `127.0.0.1:${grpc}`], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    try {
      const end = Date.now() + 15_000;
      while (!out.includes("started")) {
        if (Date.now() > end || child.exitCode !== null) throw new Error(`hub did not start: ${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(out).toMatch(/DEVELOPMENT MODE/);
      const c = await TestWsClient.connect(`ws://127.0.0.1:${http}/connection/websocket`);
      await c.call({ subscribe: { channel: "cli" } });
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      child.kill("SIGTERM");
      const push = await c.waitFor((m) => m.push?.disconnect);
      expect(push.push.disconnect).toMatchObject({ code: 3001, reconnect: true });
      expect(await exited).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
