import { afterEach, describe, expect, it } from "vitest";
import type { HistoryStore } from "../../src/history/history-store.js";
import { recoveryFrom } from "../../src/history/recovery.js";
import type { PresenceStore } from "../../src/presence/presence-store.js";
import type { ClientInfo, Publication, StreamPosition } from "../../src/gen/realtime/v1/types.js";

const info = (user: string, client: string): ClientInfo => ({ user, client, connInfo: Buffer.alloc(0), chanInfo: Buffer.alloc(0) });
/** A publication by `user` ('' for a backend's, which has no info). */
const pub = (user: string, text: string): Publication => ({
  data: Buffer.from(JSON.stringify({ text })),
  offset: "0",
  epoch: "",
  tags: {},
  info: user ? info(user, `c-${user}`) : undefined,
  time: "0",
});
const texts = (pubs: Publication[]) => pubs.map((p) => JSON.parse(p.data.toString()).text as string);
const ch = (name: string) => `${name}-${Math.random().toString(36).slice(2, 8)}`;

/**
 * EraseUser as every history and presence store must do it (ErasableStore); run against each
 * implementation. Each store is fresh (its own prefix), so "every channel" is the test's.
 */
export function erasureContract(name: string, create: () => Promise<{ history: HistoryStore; presence: PresenceStore }>): void {
  describe(`EraseUser in the stores: ${name}`, () => {
    let history: HistoryStore;
    let presence: PresenceStore;
    const opts = { size: 10, ttlSeconds: 60 };
    afterEach(async () => {
      await history?.close();
      await presence?.close();
    });
    const fresh = async () => ({ history, presence } = await create());
    const append = async (c: string, users: string[], o = opts) => {
      for (const [i, u] of users.entries()) await history.append(c, pub(u, `${u || "backend"}-${i}`), o);
    };
    const recover = async (c: string, since: StreamPosition) => recoveryFrom(await history.read(c, { since, limit: 100 }), since);

    it("removes the user's publications from every channel, keeps everyone else's and every offset", async () => {
      await fresh();
      const [a, b, other] = [ch("chat:a"), ch("chat:b"), ch("chat:other")];
      await append(a, ["u", "v", "u", "", "v"]);
      await append(b, ["u"]);
      await append(other, ["v", ""]);
      const epochA = (await history.read(a, { limit: 0 })).position.epoch;
      const removed = await history.eraseUser("u");
      expect(Object.fromEntries(removed)).toEqual({ [a]: 2, [b]: 1 });
      const ra = await history.read(a, { limit: 100 });
      expect(texts(ra.publications)).toEqual(["v-1", "backend-3", "v-4"]);
      expect(ra.publications.map((p) => p.offset)).toEqual(["2", "4", "5"]);
      expect(ra.position).toEqual({ offset: "5", epoch: epochA });
      expect(ra.erased).toEqual([1, 3]);
      expect((await history.read(b, { limit: 100 })).publications).toEqual([]);
      expect(texts((await history.read(other, { limit: 100 })).publications)).toEqual(["v-0", "backend-1"]);
      // Offsets go on where they were; erasing again finds nothing.
      expect((await history.append(a, pub("v", "later"), opts)).offset).toBe("6");
      expect((await history.eraseUser("u")).size).toBe(0);
      expect((await history.eraseUser("nobody")).size).toBe(0);
    });

    it("recovery over erased publications is not a gap, from anywhere in the stream", async () => {
      await fresh();
      const c = ch("chat:r");
      await append(c, ["u", "v", "u", "u", "v", "u"]); // offsets 1..6; u: 1, 3, 4, 6
      await history.eraseUser("u");
      const { epoch } = (await history.read(c, { limit: 0 })).position;
      const from = async (offset: number) => {
        const r = await recover(c, { offset: String(offset), epoch });
        return { recovered: r.recovered, offsets: r.publications.map((p) => p.offset) };
      };
      expect(await from(0)).toEqual({ recovered: true, offsets: ["2", "5"] });
      expect(await from(1)).toEqual({ recovered: true, offsets: ["2", "5"] });
      expect(await from(2)).toEqual({ recovered: true, offsets: ["5"] });
      expect(await from(4)).toEqual({ recovered: true, offsets: ["5"] });
      // The newest was erased: nothing follows 5, and nothing is missing.
      expect(await from(5)).toEqual({ recovered: true, offsets: [] });
      expect(await from(6)).toEqual({ recovered: true, offsets: [] });
      // Another epoch is still another stream.
      expect((await recover(c, { offset: "2", epoch: "other" })).recovered).toBe(false);
    });

    it("erased offsets do not hide publications that fell out of history", async () => {
      await fresh();
      const small = { size: 3, ttlSeconds: 60 };
      const c = ch("chat:t");
      await append(c, ["v", "u", "v"], small); // 1 v, 2 u, 3 v
      expect(Object.fromEntries(await history.eraseUser("u"))).toEqual({ [c]: 1 });
      await append(c, ["v", "v"], small); // 4, 5: three kept (3, 4, 5), 1 trimmed
      const { epoch } = (await history.read(c, { limit: 0 })).position;
      expect((await history.read(c, { limit: 100 })).publications.map((p) => p.offset)).toEqual(["3", "4", "5"]);
      expect((await recover(c, { offset: "0", epoch })).recovered).toBe(false); // 1 is lost
      expect((await recover(c, { offset: "1", epoch })).recovered).toBe(true); // 2 was erased
      // A publication of the user that had fallen out already is not counted, and stays a gap.
      const d = ch("chat:d");
      await append(d, ["u", "v", "v", "v"], small); // 1 (u) trimmed
      expect((await history.eraseUser("u")).has(d)).toBe(false);
      const ed = (await history.read(d, { limit: 0 })).position.epoch;
      expect((await recover(d, { offset: "0", epoch: ed })).recovered).toBe(false);
    });

    it("removes the user's presence entries from every channel, and only theirs", async () => {
      await fresh();
      const [a, b, c] = [ch("room:a"), ch("room:b"), ch("room:c")];
      await presence.add(a, info("u", "u1"), 60);
      await presence.add(a, info("u", "u2"), 60);
      await presence.add(a, info("v", "v1"), 60);
      await presence.add(b, info("u", "u1"), 60);
      await presence.add(c, info("v", "v1"), 60);
      expect(Object.fromEntries(await presence.eraseUser("u"))).toEqual({ [a]: 2, [b]: 1 });
      expect(Object.keys(await presence.get(a))).toEqual(["v1"]);
      expect(await presence.get(b)).toEqual({});
      expect(await presence.stats(a)).toEqual({ numClients: 1, numUsers: 1 });
      expect(Object.keys(await presence.get(c))).toEqual(["v1"]);
      expect((await presence.eraseUser("u")).size).toBe(0);
      // The store still works for the user afterwards.
      await presence.add(a, info("u", "u3"), 60);
      expect(Object.keys(await presence.get(a)).sort()).toEqual(["u3", "v1"]);
    });
  });
}
