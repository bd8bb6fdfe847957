import { afterEach, describe, expect, it } from "vitest";
import type { Broker } from "../../src/broker/broker.js";
import type { BrokerEnvelope } from "../../src/gen/realtime/v1/broker.js";
import { until } from "../helpers/until.js";

const env = (origin: string, channel: string, n: number): BrokerEnvelope => ({
  origin,
  channel,
  publication: { data: Buffer.from(String(n)), offset: "0", epoch: "", tags: {}, info: undefined, time: "0" },
});

/**
 * The Broker contract; run against every implementation. `create` returns a started-able
 * broker attached to the same backend each time (two calls = two nodes).
 */
export function brokerContract(
  name: string,
  create: () => Promise<Broker>,
  /** Brokers that deliver every channel to every node (Kafka) skip the filtering checks. */
  opts: { consumesAll?: boolean } = {},
): void {
  describe(`Broker contract: ${name}`, () => {
    const opened: Broker[] = [];
    afterEach(async () => {
      for (const b of opened.splice(0)) await b.close();
    });
    async function started(): Promise<{ b: Broker; got: BrokerEnvelope[] }> {
      const b = await create();
      opened.push(b);
      const got: BrokerEnvelope[] = [];
      await b.start((e) => got.push(e));
      return { b, got };
    }
    const ch = (s: string) => `${s}-${Math.random().toString(36).slice(2, 8)}`;

    it("delivers to every node subscribed to the channel, the publisher included", async () => {
      const a = await started();
      const b = await started();
      const c = await started();
      const channel = ch("x");
      await a.b.subscribe(channel);
      await b.b.subscribe(channel);
      await a.b.publish(env("a", channel, 1));
      await until(() => a.got.length === 1 && b.got.length === 1);
      expect(b.got[0]).toMatchObject({ origin: "a", channel });
      expect(b.got[0]!.publication!.data.toString()).toBe("1");
      if (!opts.consumesAll) {
        await new Promise((r) => setTimeout(r, 100));
        expect(c.got.filter((e) => e.channel === channel)).toHaveLength(0);
      }
      expect(a.b.healthy() && b.b.healthy()).toBe(true);
    });

    it("keeps per-channel order from one publisher", async () => {
      const a = await started();
      const b = await started();
      const channel = ch("order");
      await b.b.subscribe(channel);
      for (let i = 0; i < 300; i++) void a.b.publish(env("a", channel, i));
      await until(() => b.got.length === 300);
      expect(b.got.map((e) => Number(e.publication!.data.toString()))).toEqual([...Array(300).keys()]);
    });

    it("delivers control envelopes (empty channel) to every node", async () => {
      const a = await started();
      const b = await started();
      await a.b.publish({ origin: "a", channel: "", control: { disconnect: { user: "7", client: "", code: 0, reason: "" } } });
      await until(() => b.got.some((e) => e.control?.disconnect?.user === "7"));
    });

    it("carries the longest valid channel name (255 characters)", async () => {
      const a = await started();
      const b = await started();
      const channel = ch("long").padEnd(255, "x");
      await b.b.subscribe(channel);
      await a.b.publish(env("a", channel, 1));
      await until(() => b.got.some((e) => e.channel === channel));
      await b.b.unsubscribe(channel);
    });

    // Not registered at all for brokers that consume everything (a skip would read as missing).
    if (!opts.consumesAll)
    it("stops delivering after unsubscribe", async () => {
      const a = await started();
      const b = await started();
      const channel = ch("unsub");
      await b.b.subscribe(channel);
      await a.b.publish(env("a", channel, 1));
      await until(() => b.got.length === 1);
      await b.b.unsubscribe(channel);
      await a.b.publish(env("a", channel, 2));
      await new Promise((r) => setTimeout(r, 200));
      expect(b.got).toHaveLength(1);
    });
  });
}
