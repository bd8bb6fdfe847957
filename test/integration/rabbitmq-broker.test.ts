import { execFileSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { pino } from "pino";
import { connect, type ConfirmChannel } from "amqplib";
import { brokerContract } from "../contract/broker.js";
import { RabbitMqBroker, type RabbitMqBrokerOptions } from "../../src/broker/rabbitmq.js";
import type { BrokerEnvelope } from "../../src/gen/realtime/v1/broker.js";
import { rabbitMqVhost } from "../helpers/processes.js";

const vhost = "rh-test";
const url = await rabbitMqVhost(vhost);
const exchange = `rh-t${Math.random().toString(36).slice(2, 6)}`;
brokerContract("rabbitmq", async () => new RabbitMqBroker(url, exchange, pino({ level: "silent" })));

const env = (channel: string, n: number): BrokerEnvelope => ({
  origin: "t",
  channel,
  publication: { data: Buffer.from(String(n)), offset: "0", epoch: "", tags: {}, info: undefined, time: "0" },
});

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

const opened: RabbitMqBroker[] = [];
afterEach(async () => {
  for (const b of opened.splice(0)) await b.close();
});
async function started(opts: RabbitMqBrokerOptions = {}, ex = exchange): Promise<{ b: RabbitMqBroker; got: BrokerEnvelope[] }> {
  const b = new RabbitMqBroker(url, ex, pino({ level: "silent" }), opts);
  opened.push(b);
  const got: BrokerEnvelope[] = [];
  await b.start((e) => got.push(e));
  return { b, got };
}

describe("RabbitMQ routing keys", () => {
  it("encode any channel so topic wildcards cannot be injected", () => {
    for (const ch of ["a.b", "#", "*.x", "chat:1"]) expect(RabbitMqBroker.routingKey(ch)).toMatch(/^ch\.[A-Za-z0-9_-]+$/);
    expect(RabbitMqBroker.routingKey("")).toBe("control");
  });

  it("stay within AMQP's 255 bytes for every valid channel, readable where they fit", () => {
    const fits = "f".repeat(189);
    expect(RabbitMqBroker.routingKey(fits)).toBe(`ch.${Buffer.from(fits).toString("base64url")}`);
    const long = ["g".repeat(190), "g".repeat(255), "h".repeat(255)].map((c) => RabbitMqBroker.routingKey(c));
    for (const key of long) expect(key).toMatch(/^h\.[A-Za-z0-9_-]{43}$/);
    expect(new Set(long).size).toBe(3);
  });
});

describe("RabbitMQ publish bounds", () => {
  it("fails a publish at once past maxPending unconfirmed publishes, and publishes again once confirmed", async () => {
    const { b } = await started({ maxPending: 3 });
    // One tick: no confirm can arrive in between.
    const results = await Promise.allSettled([1, 2, 3, 4].map((n) => b.publish(env("bound", n))));
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "rejected"]);
    expect(String((results[3] as PromiseRejectedResult).reason)).toMatch(/backlog full: 3 publishes unconfirmed/);
    await b.publish(env("bound", 5));
  });

  it("fails a publish at once past maxPendingBytes", async () => {
    const { b } = await started({ maxPendingBytes: 100 });
    const big: BrokerEnvelope = { ...env("bound", 0), publication: { ...env("bound", 0).publication!, data: Buffer.alloc(60) } };
    const results = await Promise.allSettled([b.publish(big), b.publish(big)]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected"]);
  });

  it("stops writing when the channel's buffer is full and goes on, in order, at its drain", async () => {
    const a = await started();
    const r = await started();
    await r.b.subscribe("burst");
    const ch = (a.b as unknown as { ch: ConfirmChannel }).ch;
    const publish = ch.publish.bind(ch);
    let full = false;
    let sawFull = false;
    let writesWhileFull = 0;
    // First in line, so the broker's own drain listener sees the buffer as drained.
    ch.prependListener("drain", () => (full = false));
    ch.publish = (...args: Parameters<ConfirmChannel["publish"]>) => {
      if (full) writesWhileFull++;
      const ok = publish(...args);
      if (!ok) full = sawFull = true;
      return ok;
    };
    // amqplib's per-channel buffer holds 1024 frames: 3000 publishes in one tick overflow it.
    const n = 3000;
    await Promise.all(Array.from({ length: n }, (_, i) => a.b.publish(env("burst", i))));
    expect(sawFull).toBe(true);
    expect(writesWhileFull).toBe(0);
    await until(() => r.got.length === n);
    expect(r.got.map((e) => Number(e.publication!.data.toString()))).toEqual([...Array(n).keys()]);
  });
});

describe("RabbitMQ node queue", () => {
  function rabbitmqctl(...args: string[]): unknown[] {
    return JSON.parse(execFileSync("rabbitmqctl", [...args, "-p", vhost, "--formatter", "json", "-q"], { encoding: "utf8" })) as unknown[];
  }

  it("is declared with a length bound that drops the oldest messages", async () => {
    const ex = `rh-q${Math.random().toString(36).slice(2, 6)}`;
    await started({ maxQueueLength: 5, maxQueueBytes: 4096 }, ex);
    const bindings = rabbitmqctl("list_bindings", "source_name", "destination_name") as Array<{ source_name: string; destination_name: string }>;
    const queue = bindings.find((x) => x.source_name === ex)!.destination_name;
    // rabbitmqctl lists arguments as [name, type, value] triples.
    const queues = rabbitmqctl("list_queues", "name", "arguments") as Array<{ name: string; arguments: Array<[string, string, unknown]> }>;
    const args = Object.fromEntries(queues.find((q) => q.name === queue)!.arguments.map(([k, , v]) => [k, v]));
    expect(args).toMatchObject({ "x-max-length": 5, "x-max-length-bytes": 4096, "x-overflow": "drop-head" });
  });

  it("the bound's arguments make RabbitMQ keep only the newest messages", async () => {
    const conn = await connect(url);
    try {
      const ch = await conn.createChannel();
      const q = await ch.assertQueue("", { exclusive: true, arguments: RabbitMqBroker.queueArguments({ maxQueueLength: 3, maxQueueBytes: 1 << 20 }) });
      for (let i = 0; i < 5; i++) ch.sendToQueue(q.queue, Buffer.from(String(i)));
      const check = async () => (await ch.checkQueue(q.queue)).messageCount;
      for (let end = Date.now() + 5000; (await check()) !== 3 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
      const first = await ch.get(q.queue, { noAck: true });
      expect(first && first.content.toString()).toBe("2");
    } finally {
      await conn.close();
    }
  });
});
