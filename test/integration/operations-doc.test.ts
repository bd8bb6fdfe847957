import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { TestWsClient } from "../helpers/ws-client.js";

/**
 * docs/operations.md's commands, run as written against a hub that needs its API key: each
 * curl and buf curl line, and the token commands, with only the addresses and the key replaced.
 */

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DOC = readFileSync(new URL("docs/operations.md", `file://${ROOT}/`), "utf8");
const KEY = "operations-doc-key";
const SECRET = "operations-doc-token-secret-32-bytes";

/** The command lines of the doc's ```sh blocks, with `\` continuations joined. */
function commands(): string[] {
  return [...DOC.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.replace(/\\\n\s*/g, "").split("\n").filter((l) => l.trim() && !l.startsWith("#")));
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const sh = (line: string, env: Record<string, string> = {}) =>
  new Promise<Run>((resolve) =>
    execFile("sh", ["-c", line], { cwd: ROOT, encoding: "utf8", timeout: 60_000, env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    ),
  );

describe("docs/operations.md", () => {
  let hub: TestHub;
  let lurker: TestWsClient;
  const local = (line: string, key = KEY) =>
    line
      .replaceAll("http://127.0.0.1:8080", hub.httpUrl)
      .replaceAll("http://127.0.0.1:50051", `http://${hub.grpcAddr}`)
      .replaceAll("<key>", key)
      .replace(/^npx realtime-hub /, `${JSON.stringify(process.execPath)} dist/src/main.js `);

  beforeAll(async () => {
    hub = await startTestHub({ apiKey: KEY, insecureApi: false });
    // Someone in the channel, so presence and channels have something to say.
    lurker = await TestWsClient.connect(hub.wsUrl);
    expect((await lurker.call({ subscribe: { channel: "chat:lobby" } })).error).toBeUndefined();
  });
  afterAll(async () => {
    lurker?.ws.close();
    await hub?.stop();
  });

  it("has a command for every unary admin call, over HTTP and gRPC", () => {
    const lines = commands();
    for (const method of ["publish", "broadcast", "presence", "presence_stats", "history", "history_remove", "channels", "info", "disconnect", "unsubscribe", "erase_user"])
      expect(lines.some((l) => l.includes(`/api/${method} `)), method).toBe(true);
    expect(lines.filter((l) => l.startsWith("npx buf curl")).length).toBeGreaterThanOrEqual(6);
  });

  it("every command works as written: exit 0 and an answer without an error", async () => {
    for (const line of commands()) {
      const r = await sh(local(line), { SECRET });
      expect(r.code, `${line}\n${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stdout.trim(), line).not.toBe("");
      if (line.includes("curl")) expect(JSON.parse(r.stdout) as object, line).not.toHaveProperty("error");
    }
    // What they did: the lurker got the publish and the broadcast, then was disconnected.
    const pubs = lurker.messages.filter((m) => m.push?.pub).map((m) => m.push.pub.data);
    expect(pubs).toContainEqual({ text: "hi" });
    expect(pubs).toContainEqual({ text: "maintenance at 22:00" });
  }, 180_000);

  it("the same calls with a wrong key are refused (curl -f exits 22)", async () => {
    const publish = commands().find((l) => l.includes("/api/publish "))!;
    const r = await sh(local(publish, "wrong-key"));
    expect(r.code).toBe(22);
  });
});
