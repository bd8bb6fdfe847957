import { execFileSync } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { connect, type ChannelModel, type ConfirmChannel } from "amqplib";
import { brokerContract } from "../contract/broker.js";
import { RabbitMqBroker, type RabbitMqBrokerOptions } from "../../src/broker/rabbitmq.js";
import type { BrokerEnvelope } from "../../src/gen/realtime/v1/broker.js";
import { rabbitMqVhost } from "../helpers/processes.js";
import { rabbitMqServerMissing, startRabbitMqServer, type RabbitMqServer } from "../helpers/rabbitmq-server.js";
import { requireTools } from "../helpers/require.js";
import { defaultConfig } from "../../src/config.js";
import { until } from "../helpers/until.js";

const vhost = "rh-test";
const url = await rabbitMqVhost(vhost);
const exchange = `rh-t${Math.random().toString(36).slice(2, 6)}`;
/** The config's bounds, with some replaced. */
const bounds = (opts: Partial<RabbitMqBrokerOptions> = {}): RabbitMqBrokerOptions => {
  const c = defaultConfig();
  return { maxQueueLength: c.amqpMaxQueueLength, maxQueueBytes: c.amqpMaxQueueBytes, maxPending: c.amqpMaxPending, maxPendingBytes: c.amqpMaxPendingBytes, ...opts };
};

brokerContract("rabbitmq", async () => new RabbitMqBroker(url, exchange, pino({ level: "silent" }), bounds()));

const env = (channel: string, n: number): BrokerEnvelope => ({
  origin: "t",
  channel,
  publication: { data: Buffer.from(String(n)), offset: "0", epoch: "", tags: {}, info: undefined, time: "0" },
});

const opened: RabbitMqBroker[] = [];
afterEach(async () => {
  for (const b of opened.splice(0)) await b.close();
});
async function started(
  opts: Partial<RabbitMqBrokerOptions> = {},
  ex = exchange,
  before: (b: RabbitMqBroker) => void = () => undefined,
  at = url,
): Promise<{ b: RabbitMqBroker; got: BrokerEnvelope[] }> {
  const b = new RabbitMqBroker(at, ex, pino({ level: "silent" }), bounds(opts));
  opened.push(b);
  before(b);
  const got: BrokerEnvelope[] = [];
  await b.start((e) => got.push(e));
  return { b, got };
}

/**
 * Runs `during(model, step)` after each AMQP call of the broker's setup (its first run, or
 * every run with `every`), before setup goes on: the place to act while the broker connects.
 */
function duringSetup(b: RabbitMqBroker, during: (model: ChannelModel, step: string) => Promise<void> | void, every = false): void {
  const inner = b as unknown as { setup(m: ChannelModel): Promise<void> };
  const setup = inner.setup.bind(b);
  let runs = 0;
  inner.setup = async (model: ChannelModel) => {
    if (runs++ > 0 && !every) return setup(model);
    const create = model.createConfirmChannel.bind(model);
    model.createConfirmChannel = async (...args: Parameters<ChannelModel["createConfirmChannel"]>) => {
      const ch = await create(...args);
      await during(model, "createConfirmChannel");
      for (const name of ["assertExchange", "assertQueue", "consume", "bindQueue"] as const) {
        const call = (ch[name] as (...a: unknown[]) => Promise<unknown>).bind(ch);
        (ch as unknown as Record<string, unknown>)[name] = async (...a: unknown[]) => {
          const result = await call(...a);
          await during(model, name);
          return result;
        };
      }
      return ch;
    };
    return setup(model);
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const n = (e: BrokerEnvelope) => Number(e.publication!.data.toString());

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
    expect(String((results[3] as PromiseRejectedResult).reason)).toMatch(/backlog full: 3 publishes unanswered/);
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

describe("RabbitMQ connection trouble", () => {
  it("binds a channel subscribed while the connection is being set up", async () => {
    const r = await started();
    const names = ["during-0", "during-1", "during-2", "during-3", "during-4", "during-5", "during-6"];
    const pending = [...names];
    // One subscribe after each step of the setup; the broker has no channel yet, so each is
    // only remembered, and setup must still bind it.
    const a = await started({}, exchange, (b) =>
      duringSetup(b, async () => {
        const next = pending.shift();
        if (next) await b.subscribe(next);
      }),
    );
    expect(pending).toEqual([]);
    for (const [i, c] of names.entries()) await r.b.publish(env(c, i));
    await until(() => a.got.length === names.length);
    expect(a.got.map((e) => e.channel)).toEqual(names);
  });

  it("survives its socket failing while it (re)connects, and connects again", async () => {
    const r = await started();
    let failed = false;
    const a = await started({}, exchange, (b) =>
      duringSetup(
        b,
        (model, step) => {
          if (failed || step !== "assertQueue") return;
          failed = true;
          // What a broker dying mid-setup does to the socket: amqplib then emits 'error' on a
          // connection nobody listened to yet, which used to be thrown out of the socket handler.
          (model as unknown as { connection: { stream: { destroy(e: Error): void } } }).connection.stream.destroy(new Error("broker died"));
        },
        true,
      ),
    );
    expect(failed).toBe(true);
    expect(a.b.healthy()).toBe(true); // start() waited for the second, good attempt
    await a.b.subscribe("after-socket-failure");
    await r.b.publish(env("after-socket-failure", 1));
    await until(() => a.got.length === 1);
  });

  it("starts over when the server closes its channel (the exchange deleted under it): redeclares and binds again", async () => {
    const ex = `rh-d${Math.random().toString(36).slice(2, 6)}`;
    const a = await started({}, ex);
    await a.b.subscribe("del");
    await a.b.publish(env("del", 1));
    await until(() => a.got.length === 1);
    const conn = await connect(url);
    try {
      await (await conn.createChannel()).deleteExchange(ex);
    } finally {
      await conn.close();
    }
    // Publishing into a missing exchange is a channel error: the server closes the channel.
    // A node left holding that dead channel would report itself healthy and never publish
    // again; it must drop the connection and set everything up anew.
    await expect(a.b.publish(env("del", 2))).rejects.toThrow();
    await until(() => a.b.healthy() && (a.b as unknown as { setups: number }).setups === 2);
    await a.b.publish(env("del", 3));
    await until(() => a.got.length === 2);
    expect(a.got.map(n)).toEqual([1, 3]);
  });
});

const missing = rabbitMqServerMissing();
const ownNode = requireTools("RabbitMQ broker against a private node", { [missing ?? "rabbitmq-server"]: missing === null });

describe.runIf(ownNode)("RabbitMQ broker: the RabbitMQ node killed -9 and restarted", () => {
  let rabbit: RabbitMqServer;
  beforeAll(async () => {
    rabbit = await startRabbitMqServer();
  }, 90_000);
  afterAll(async () => rabbit?.stop());

  it("settles every publish in flight, fails new ones at once, remembers subscriptions, and recovers", async () => {
    const a = await started({}, "rh-kill", undefined, rabbit.url);
    const r = await started({}, "rh-kill", undefined, rabbit.url);
    await r.b.subscribe("k");
    await a.b.publish(env("k", 0));
    await until(() => r.got.length === 1);

    // 3000 in one tick: some are confirmed before the crash, some wait for a confirm that will
    // never come, some wait for the channel's buffer to drain. Every one must settle.
    const inflight = Promise.allSettled(Array.from({ length: 3000 }, (_, i) => a.b.publish(env("k", i + 1))));
    await rabbit.kill9();
    const settled = await Promise.race([inflight, sleep(5000).then(() => null)]);
    expect(settled, "publishes still pending 5 s after the crash").not.toBeNull();
    expect(settled!.some((s) => s.status === "rejected")).toBe(true);
    await until(() => !a.b.healthy() && !r.b.healthy());
    await expect(a.b.publish(env("k", -1))).rejects.toThrow(/not connected/);
    await r.b.subscribe("k2"); // remembered while down

    await rabbit.start();
    await until(() => a.b.healthy() && r.b.healthy(), 20_000);
    const before = r.got.length;
    await a.b.publish(env("k2", 1));
    await a.b.publish(env("k", 2));
    await until(() => r.got.length === before + 2);
    expect(r.got.slice(before).map((e) => e.channel)).toEqual(["k2", "k"]);
  }, 60_000);
});
