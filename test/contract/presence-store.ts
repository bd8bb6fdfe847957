import { describe, expect, it, afterEach } from "vitest";
import type { PresenceStore } from "../../src/presence/presence-store.js";

const info = (user: string, client: string) => ({ user, client, connInfo: Buffer.alloc(0), chanInfo: Buffer.alloc(0) });

/** The PresenceStore contract; run against every implementation. */
export function presenceStoreContract(name: string, create: (now: () => number) => Promise<PresenceStore>): void {
  describe(`PresenceStore contract: ${name}`, () => {
    let store: PresenceStore;
    let clock = 1_000_000;
    const now = () => clock;
    afterEach(async () => store && (await store.close()));
    const ch = () => `pres-${Math.random().toString(36).slice(2)}`;

    it("adds, lists, counts users and removes", async () => {
      store = await create(now);
      const c = ch();
      await store.add(c, info("u1", "c1"), 60);
      await store.add(c, info("u1", "c2"), 60);
      await store.add(c, info("u2", "c3"), 60);
      expect(Object.keys(await store.get(c)).sort()).toEqual(["c1", "c2", "c3"]);
      expect((await store.get(c)).c3!.user).toBe("u2");
      expect(await store.stats(c)).toEqual({ numClients: 3, numUsers: 2 });
      await store.remove(c, "c2");
      expect(Object.keys(await store.get(c)).sort()).toEqual(["c1", "c3"]);
    });

    it("expires entries that are not refreshed, keeps those that are", async () => {
      store = await create(now);
      const c = ch();
      await store.add(c, info("u1", "stale"), 10);
      await store.add(c, info("u2", "fresh"), 10);
      clock += 8000;
      await store.add(c, info("u2", "fresh"), 10);
      clock += 5000;
      expect(Object.keys(await store.get(c))).toEqual(["fresh"]);
      expect(await store.stats(c)).toEqual({ numClients: 1, numUsers: 1 });
    });

    it("drops expired entries even when a live one is added before the next read", async () => {
      // The usual order in a cluster: a node dies, the survivors refresh before anyone reads.
      store = await create(now);
      const c = ch();
      await store.add(c, info("u1", "dead"), 10);
      await store.add(c, info("u2", "live"), 10);
      clock += 11_000;
      await store.add(c, info("u2", "live"), 10);
      expect(Object.keys(await store.get(c))).toEqual(["live"]);
      clock += 1000;
      await store.add(c, info("u2", "live"), 10);
      expect(await store.stats(c)).toEqual({ numClients: 1, numUsers: 1 });
    });

    it("drops thousands of expired entries at once (a big node died)", async () => {
      store = await create(now);
      const c = ch();
      const n = 9000;
      await store.add(c, info("u0", "d0"), 10);
      await Promise.all(Array.from({ length: n - 1 }, (_, i) => store.add(c, info(`u${i + 1}`, `d${i + 1}`), 10)));
      expect((await store.stats(c)).numClients).toBe(n);
      clock += 11_000;
      expect(await store.get(c)).toEqual({});
      await Promise.all(Array.from({ length: n }, (_, i) => store.add(c, info(`u${i}`, `e${i}`), 10)));
      clock += 11_000;
      await store.add(c, info("u1", "live"), 10);
      expect(Object.keys(await store.get(c))).toEqual(["live"]);
    });
  });
}
