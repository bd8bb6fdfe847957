import { afterEach, describe, expect, it } from "vitest";
import { credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { BROKER_BYTES_HEADROOM, MAX_PUBLISH_BYTES } from "../../src/config.js";
import { HubServiceClient } from "../../src/gen/realtime/v1/hub.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { TestWsClient } from "../helpers/ws-client.js";

const MiB = 1024 * 1024;
/** The smallest bound config accepts: a few 1 MiB publications pass it. */
const BOUND = MAX_PUBLISH_BYTES + BROKER_BYTES_HEADROOM;

let hub: TestHub | undefined;
let backend: HubServiceClient | undefined;
let bystander: TestWsClient | undefined;
afterEach(async () => {
  bystander?.close();
  backend?.close();
  await hub?.stop();
  hub = backend = bystander = undefined;
});

/** Publishes through the HTTP API, as a PHP backend would; waits for the hub's answer. */
async function publish(h: TestHub, channel: string, data: unknown): Promise<void> {
  const res = await fetch(`${h.httpUrl}/api/publish`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ channel, data }),
  });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}

describe("gRPC Subscribe backlog bound", () => {
  it(
    "a backend Subscribe stream that stops reading is ended with RESOURCE_EXHAUSTED after subscribeBacklogMaxBytes, and the channel keeps working",
    async () => {
      // The bystander must not be the one cut off as slow while 40 MiB go by.
      hub = await startTestHub({ subscribeBacklogMaxBytes: BOUND, clientQueueMaxBytes: 128 * MiB });
      const h = hub;
      const ch = "g:big";
      // Its own connection with the default 64 KiB flow-control window: the hub's writes stop
      // as soon as that is full and the client's read-ahead is taken.
      backend = new HubServiceClient(h.grpcAddr, credentials.createInsecure(), { "grpc-node.flow_control_window": 65535 });
      const stream = backend.subscribe({ channels: [ch], clientPublicationsOnly: false, joinLeave: false }, new Metadata());
      // Read a little, then stop: an explicitly paused stream stays paused with a 'data' listener.
      stream.pause();
      stream.read(0);
      let received = 0;
      stream.on("data", () => received++);
      const failed = new Promise<ServiceError>((r) => stream.on("error", r));
      await new Promise((r) => stream.once("metadata", r));
      bystander = await TestWsClient.connect(h.wsUrl);
      await bystander.call({ subscribe: { channel: ch } });
      expect(h.node.channels(ch)).toEqual({ [ch]: { numClients: 2 } });

      const n = 40;
      const big = "x".repeat(MiB);
      let droppedAt = 0;
      for (let i = 1; i <= n; i++) {
        await publish(h, ch, big);
        if (!droppedAt && h.node.channels(ch)[ch]?.numClients === 1) droppedAt = i;
      }
      // Dropped while the publisher was still going, whatever the consumer does next (a count
      // of 10,000 events never dropped it). Usually at the 5th: four 1 MiB events fill the
      // bound. The slack is what the client may take in before it stops reading, if the
      // machine is slow enough for it to read ahead: grpc-js reads up to 16 messages (its
      // stream's highWaterMark) plus one arriving in the window.
      expect(droppedAt).toBeGreaterThan(0);
      expect(droppedAt).toBeLessThanOrEqual(Math.ceil(BOUND / MiB) + 1 + 17);
      expect(h.node.channels(ch)).toEqual({ [ch]: { numClients: 1 } });

      await publish(h, ch, { text: "later" });
      await bystander.waitFor((m) => m.push?.pub?.data?.text === "later", 30_000);
      expect(bystander.pubs(ch)).toHaveLength(n + 1);
      expect(bystander.closeCode).toBeNull();

      stream.resume();
      const err = await failed;
      expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
      expect(err.details).toMatch(/too slow: more than \d+ bytes waiting \(subscribeBacklogMaxBytes\)/);
      expect(err.metadata.get("realtime-error-code")).toEqual(["106"]);
      // What gRPC held when the stream was dropped still arrives, then the status; no more.
      expect(received).toBeLessThan(droppedAt);
    },
    60_000,
  );
});
