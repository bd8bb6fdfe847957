import { describe, expect, it, afterEach } from "vitest";
import type { HistoryStore } from "../../src/history/history-store.js";
import type { Publication } from "../../src/gen/realtime/v1/types.js";

const pub = (text: string): Publication => ({
  data: Buffer.from(JSON.stringify({ text })),
  offset: "0",
  epoch: "",
  tags: {},
  info: undefined,
  time: "0",
});

/** The HistoryStore contract; run against every implementation. */
export function historyStoreContract(name: string, create: (now: () => number) => Promise<HistoryStore>): void {
  describe(`HistoryStore contract: ${name}`, () => {
    let store: HistoryStore;
    let clock = 1_000_000;
    const now = () => clock;
    afterEach(async () => store && (await store.close()));
    const ch = () => `hist-${Math.random().toString(36).slice(2)}`;

    it("assigns offsets 1, 2, 3 in one epoch", async () => {
      store = await create(now);
      const c = ch();
      const a = await store.append(c, pub("a"), { size: 10, ttlSeconds: 60 });
      const b = await store.append(c, pub("b"), { size: 10, ttlSeconds: 60 });
      expect([a.offset, b.offset]).toEqual(["1", "2"]);
      expect(a.epoch).toBe(b.epoch);
      expect(a.epoch).not.toBe("");
    });

    it("keeps only the last N and reads since a position", async () => {
      store = await create(now);
      const c = ch();
      for (const t of ["a", "b", "c", "d", "e"]) await store.append(c, pub(t), { size: 3, ttlSeconds: 60 });
      const all = await store.read(c, { limit: 10 });
      expect(all.publications.map((p) => JSON.parse(p.data.toString()).text)).toEqual(["c", "d", "e"]);
      expect(all.position.offset).toBe("5");
      const since = await store.read(c, { limit: 10, since: { offset: "3", epoch: all.position.epoch } });
      expect(since.publications.map((p) => p.offset)).toEqual(["4", "5"]);
      const rev = await store.read(c, { limit: 2, reverse: true });
      expect(rev.publications.map((p) => p.offset)).toEqual(["5", "4"]);
      const top = await store.read(c, { limit: 0 });
      expect(top.publications).toEqual([]);
      expect(top.position.offset).toBe("5");
    });

    it("reads a window after a position, oldest or newest first", async () => {
      store = await create(now);
      const c = ch();
      for (const t of ["a", "b", "c", "d", "e"]) await store.append(c, pub(t), { size: 10, ttlSeconds: 60 });
      const epoch = (await store.read(c, { limit: 0 })).position.epoch;
      const offsets = async (o: Parameters<HistoryStore["read"]>[1]) => (await store.read(c, o)).publications.map((p) => p.offset);
      expect(await offsets({ limit: 2, since: { offset: "2", epoch } })).toEqual(["3", "4"]);
      expect(await offsets({ limit: 2, since: { offset: "2", epoch }, reverse: true })).toEqual(["5", "4"]);
      expect(await offsets({ limit: 10, since: { offset: "4", epoch }, reverse: true })).toEqual(["5"]);
      expect(await offsets({ limit: 10, since: { offset: "5", epoch } })).toEqual([]);
      expect(await offsets({ limit: 10, since: { offset: "9", epoch } })).toEqual([]);
      expect(await offsets({ limit: 3 })).toEqual(["1", "2", "3"]);
      const r = await store.read(c, { limit: 10 });
      expect(JSON.parse(r.publications[4]!.data.toString())).toEqual({ text: "e" });
      expect(r.publications.every((p) => p.epoch === epoch)).toBe(true);
      expect(r.position).toEqual({ offset: "5", epoch });
    });

    it("forgets a stream after its TTL and starts a new epoch", async () => {
      store = await create(now);
      const c = ch();
      const first = await store.append(c, pub("a"), { size: 10, ttlSeconds: 5 });
      clock += 6000;
      const r = await store.read(c, { limit: 10 });
      expect(r.publications).toEqual([]);
      const again = await store.append(c, pub("b"), { size: 10, ttlSeconds: 5 });
      expect(again.epoch).not.toBe(first.epoch);
    });

    it("a reader before the first publication gets the position the first append continues", async () => {
      store = await create(now);
      const c = ch();
      const empty = await store.read(c, { limit: 0, ttlSeconds: 60 });
      expect(empty.position.offset).toBe("0");
      expect(empty.position.epoch).not.toBe("");
      expect((await store.read(c, { limit: 10, ttlSeconds: 60 })).position).toEqual(empty.position);
      const first = await store.append(c, pub("a"), { size: 10, ttlSeconds: 60 });
      expect(first).toEqual({ offset: "1", epoch: empty.position.epoch });
      const since = await store.read(c, { limit: 10, since: empty.position });
      expect(since.publications.map((p) => p.offset)).toEqual(["1"]);
    });

    it("after remove() a reader before the next publication still recovers it, in a new epoch", async () => {
      store = await create(now);
      const c = ch();
      const old = await store.append(c, pub("a"), { size: 10, ttlSeconds: 60 });
      await store.remove(c);
      const empty = await store.read(c, { limit: 0, ttlSeconds: 60 });
      expect(empty.position.offset).toBe("0");
      expect(empty.position.epoch).not.toBe(old.epoch);
      expect(await store.append(c, pub("b"), { size: 10, ttlSeconds: 60 })).toEqual({ offset: "1", epoch: empty.position.epoch });
    });

    it("remove() drops the stream", async () => {
      store = await create(now);
      const c = ch();
      const first = await store.append(c, pub("a"), { size: 10, ttlSeconds: 60 });
      await store.remove(c);
      const r = await store.read(c, { limit: 10 });
      expect(r.publications).toEqual([]);
      expect(r.position.epoch).not.toBe(first.epoch);
    });
  });
}
