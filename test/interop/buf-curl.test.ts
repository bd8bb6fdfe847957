import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { TestWsClient } from "../helpers/ws-client.js";

const run = promisify(execFile);
const BUF = fileURLToPath(new URL("../../node_modules/.bin/buf", import.meta.url));

/** `buf curl` knows nothing of our protos: it reads the schema through server reflection. */
describe("buf curl through server reflection", () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(async () => hub?.stop());

  const curl = (method: string, body: unknown) =>
    run(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "--reflect", "-d", JSON.stringify(body), `http://${hub.grpcAddr}/realtime.v1.HubService/${method}`]);

  it("calls Publish and the publication is delivered", async () => {
    const c = await TestWsClient.connect(hub.wsUrl);
    await c.call({ subscribe: { channel: "buf:1" } });
    const { stdout } = await curl("Publish", { channel: "buf:1", data: Buffer.from('{"via":"buf"}').toString("base64") });
    expect(JSON.parse(stdout)).toEqual({ offset: "1", epoch: expect.any(String) });
    expect((await c.waitFor((m) => m.push?.pub)).push.pub.data).toEqual({ via: "buf" });
    c.close();
  });

  it("lists the services through reflection", async () => {
    const { stdout } = await run(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "--list-methods", `http://${hub.grpcAddr}`]);
    expect(stdout).toContain("realtime.v1.HubService/Publish");
    expect(stdout).toContain("realtime.v1.HubService/PublishStream");
    expect(stdout).toContain("grpc.health.v1.Health/Check");
    // The webhook contract is served by app backends, not by the hub.
    expect(stdout).not.toContain("ProxyService");
  });

  it("checks health through reflection", async () => {
    const { stdout } = await run(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "--reflect", "-d", '{"service":"realtime.v1.HubService"}', `http://${hub.grpcAddr}/grpc.health.v1.Health/Check`]);
    expect(JSON.parse(stdout)).toEqual({ status: "SERVING" });
  });

  it("reports a bad request with the gRPC status", async () => {
    const err = await curl("Publish", { channel: "bad name" }).then(
      () => null,
      (e: { stderr: string }) => e,
    );
    expect(err?.stderr).toMatch(/invalid_argument/i);
  });
});
