import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { TestWsClient } from "../helpers/ws-client.js";
import { fileExists, requireTools } from "../helpers/require.js";

const PY = "/usr/bin/python3";
const pyGrpc = fileExists(PY) && spawnSync(PY, ["-c", "import grpc, google.protobuf"]).status === 0;
const canRun = requireTools("Python interop", {
  "protoc (protobuf-compiler)": fileExists("/usr/bin/protoc"),
  "grpc_python_plugin (protobuf-compiler-grpc)": fileExists("/usr/bin/grpc_python_plugin"),
  "python3-grpcio + python3-protobuf": pyGrpc,
});

const root = fileURLToPath(new URL("../../", import.meta.url));

describe.runIf(canRun)("a Python gRPC client generated from the same protos", () => {
  let hub: TestHub;
  let gen: string;
  beforeAll(async () => {
    gen = mkdtempSync(join(tmpdir(), "rh-py-"));
    execFileSync("sh", [join(root, "clients/python/generate.sh"), gen]);
    hub = await startTestHub({ apiKey: "py-key" });
  });
  afterAll(async () => hub?.stop());

  // Asynchronous: the hub runs in this process, so a synchronous spawn would block it.
  const publish = (...args: string[]) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((resolve) =>
      execFile(PY, [join(root, "clients/python/publish.py"), hub.grpcAddr, ...args], { encoding: "utf8", env: { ...process.env, PYTHONPATH: gen } }, (err, stdout, stderr) =>
        resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      ),
    );

  it("publishes; a WebSocket client receives it at the offset Python was told", async () => {
    const c = await TestWsClient.connect(hub.wsUrl);
    await c.call({ subscribe: { channel: "py:1" } });
    const r = await publish("py:1", JSON.stringify({ from: "python" }), "py-key");
    expect(r.stderr).toBe("");
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ offset: "1", numClients: 1 });
    const pub = (await c.waitFor((m) => m.push?.pub)).push.pub;
    expect(pub).toMatchObject({ data: { from: "python" }, offset: out.offset, epoch: out.epoch, tags: { via: "python" } });
    c.close();
  });

  it("gets UNAUTHENTICATED without the key and INVALID_ARGUMENT for a bad channel", async () => {
    const noKey = await publish("py:1", "{}");
    expect(noKey.status).toBe(3);
    expect(JSON.parse(noKey.stdout)).toMatchObject({ code: "UNAUTHENTICATED" });
    const bad = await publish("bad channel", "{}", "py-key");
    expect(JSON.parse(bad.stdout)).toMatchObject({ code: "INVALID_ARGUMENT", details: expect.stringMatching(/invalid channel name/) });
  });
});
