import { describe, expect, it } from "vitest";
import pino from "pino";
import { Notifier } from "../../src/proxy/notifier.js";

const log = pino({ level: "silent" });
const settle = () => new Promise((r) => setImmediate(r));

describe("Notifier", () => {
  it("stays within its bound while the app is down: waiting retries count, the oldest are dropped", async () => {
    const drops: string[] = [];
    const n = new Notifier(60_000, log, (_kind, reason) => drops.push(reason));
    let attempts = 0;
    const failing = () => {
      attempts++;
      return Promise.reject(new Error("down"));
    };
    for (let i = 0; i < 10_050; i++) {
      n.push("disconnect", failing);
      if (i % 100 === 0) await settle();
    }
    await settle();
    expect(n.pending).toBeLessThanOrEqual(10_000);
    expect(drops.filter((d) => d === "queue_full").length).toBeGreaterThanOrEqual(50);
    expect(attempts).toBeGreaterThan(0);
    await n.close(0);
  });

  it("retries until the app takes a notification, then it is gone", async () => {
    const n = new Notifier(60_000, log, () => undefined);
    let tries = 0;
    n.push("unsubscribe", () => (++tries < 3 ? Promise.reject(new Error("503")) : Promise.resolve()));
    const start = Date.now();
    while (n.pending > 0 && Date.now() - start < 5000) await new Promise((r) => setTimeout(r, 20));
    expect(tries).toBe(3);
    expect(n.pending).toBe(0);
    await n.close(0);
  });

  it("gives a notification up after the retry period", async () => {
    const drops: string[] = [];
    const n = new Notifier(300, log, (_kind, reason) => drops.push(reason));
    n.push("disconnect", () => Promise.reject(new Error("down")));
    const start = Date.now();
    while (n.pending > 0 && Date.now() - start < 5000) await new Promise((r) => setTimeout(r, 20));
    expect(drops).toEqual(["expired"]);
    await n.close(0);
  });
});
