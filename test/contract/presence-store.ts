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
  });
}
