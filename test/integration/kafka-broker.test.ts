import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { brokerContract } from "../contract/broker.js";
import { KafkaBroker } from "../../src/broker/kafka.js";
import { startKafkaMock } from "../helpers/processes.js";

const prefix = "rhk";
const topics = [0, 1, 2, 3].map((i) => `${prefix}.${i}`);
let kafka: Awaited<ReturnType<typeof startKafkaMock>>;
beforeAll(async () => {
  kafka = await startKafkaMock(topics);
});
afterAll(async () => kafka?.stop());

let n = 0;
const create = () =>
  new KafkaBroker(
    { brokers: [kafka.bootstrap], prefix, topics: 4, nodeId: `n${n++}`, compression: "none", createTopics: false, sessionTimeoutMs: 3000, heartbeatIntervalMs: 300 },
    pino({ level: "silent" }),
  );

describe("Kafka topics", () => {
  it("hashes a channel to the same topic on every node", () => {
    const a = create();
    const b = create();
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      expect(a.topicOf(`chat:${i}`)).toBe(b.topicOf(`chat:${i}`));
      seen.add(a.topicOf(`chat:${i}`));
    }
    expect(seen.size).toBe(4);
  });
});

brokerContract("kafka", async () => {
  const b = create();
  const start = b.start.bind(b);
  // A consumer group's first join takes a few seconds on the mock: wait until it consumes.
  b.start = async (handler) => {
    await start(handler);
    const end = Date.now() + 20_000;
    while (!b.healthy()) {
      if (Date.now() > end) throw new Error("kafka consumer did not join");
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return b;
}, { consumesAll: true });
