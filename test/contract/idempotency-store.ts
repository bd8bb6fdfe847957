import { describe, expect, it } from "vitest";
import type { StreamPosition } from "../../src/gen/realtime/v1/types.js";
import type { IdempotencyStore } from "../../src/idempotency/idempotency-store.js";

/**
 * What every IdempotencyStore guarantees. `make(windowMs)` returns two stores that share
 * their state the way two nodes of one cluster do (for a per-process store: the same one).
 */
export function idempotencyStoreContract(name: string, make: (windowMs: number) => Promise<[IdempotencyStore, IdempotencyStore]>): void {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  /** A publish that counts its runs and answers offset = run number. */
  const counter = (delayMs = 0) => {
    let runs = 0;
    const fn = async (): Promise<StreamPosition> => {
      const n = ++runs;
      if (delayMs) await sleep(delayMs);
      return { offset: String(n), epoch: "ep:1" };
    };
    return { fn, runs: () => runs };
  };

  describe(`IdempotencyStore contract: ${name}`, () => {
    it("runs once per channel and key; a repeat, on either store, gets the first result", async () => {
      const [a, b] = await make(60_000);
      const c = counter();
      const first = await a.run("ch", "k1", c.fn);
      expect(await a.run("ch", "k1", c.fn)).toEqual(first);
      expect(await b.run("ch", "k1", c.fn)).toEqual(first);
      expect(first).toEqual({ offset: "1", epoch: "ep:1" });
      expect(c.runs()).toBe(1);
      // The key is per channel: the same key on another channel is another publish.
      expect(await b.run("other", "k1", c.fn)).toEqual({ offset: "2", epoch: "ep:1" });
      a.close();
      b.close();
    });

    it("concurrent repeats on both stores share one run", async () => {
      const [a, b] = await make(60_000);
      const c = counter(100);
      const results = await Promise.all([a.run("ch", "k", c.fn), b.run("ch", "k", c.fn), a.run("ch", "k", c.fn), b.run("ch", "k", c.fn)]);
      expect(c.runs()).toBe(1);
      expect(new Set(results.map((r) => r.offset))).toEqual(new Set(["1"]));
      a.close();
      b.close();
    });

    it("forgets a failed run, so the retry runs", async () => {
      const [a, b] = await make(60_000);
      await expect(a.run("ch", "k", () => Promise.reject(new Error("broker down")))).rejects.toThrow("broker down");
      const c = counter();
      expect(await b.run("ch", "k", c.fn)).toEqual({ offset: "1", epoch: "ep:1" });
      expect(c.runs()).toBe(1);
      a.close();
      b.close();
    });

    it("forgets a key after the window", async () => {
      const [a, b] = await make(300);
      const c = counter();
      await a.run("ch", "k", c.fn);
      await b.run("ch", "k", c.fn);
      expect(c.runs()).toBe(1);
      await sleep(450);
      expect(await b.run("ch", "k", c.fn)).toEqual({ offset: "2", epoch: "ep:1" });
      a.close();
      b.close();
    });
  });
}
