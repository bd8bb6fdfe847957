import { describe, expect, it } from "vitest";
import { historyStoreContract } from "../contract/history-store.js";
import { presenceStoreContract } from "../contract/presence-store.js";
import { MemoryHistoryStore } from "../../src/history/memory.js";
import { MemoryPresenceStore } from "../../src/presence/memory.js";
import { checkIdempotencyKey, MAX_IDEMPOTENCY_KEY_BYTES } from "../../src/idempotency/idempotency-store.js";
import { MemoryIdempotencyStore } from "../../src/idempotency/memory.js";
import { idempotencyStoreContract } from "../contract/idempotency-store.js";
import { defaultConfig } from "../../src/config.js";
import { HubError } from "../../src/errors.js";
import { ErrorCode, type Publication } from "../../src/gen/realtime/v1/types.js";

historyStoreContract("memory", async (now) => new MemoryHistoryStore(now));
presenceStoreContract("memory", async (now) => new MemoryPresenceStore(now));
idempotencyStoreContract("memory", async (windowMs) => {
  const s = new MemoryIdempotencyStore(windowMs);
  return [s, s];
});

describe("MemoryHistoryStore", () => {
  const opts = { size: 10, ttlSeconds: 5 };

  it("keeps nothing for channels that are only read", async () => {
    const store = new MemoryHistoryStore(() => 1_000_000);
    for (let i = 0; i < 100; i++) await store.read(`never-${i}`, { limit: 10, ttlSeconds: 60 });
    expect((store as unknown as { streams: Map<string, unknown> }).streams.size).toBe(0);
    await store.close();
  });

  it("the position of a channel never written lasts its TTL, not a fixed one", async () => {
    let clock = 1_000_000;
    const store = new MemoryHistoryStore(() => clock);
    const empty = await store.read("quiet", { limit: 0, ttlSeconds: opts.ttlSeconds });
    clock += 6000;
    // A publication may have come and gone meanwhile: the old position must not look current.
    const first = await store.append("quiet", pub(), opts);
    expect(first.offset).toBe("1");
    expect(first.epoch).not.toBe(empty.position.epoch);
    await store.close();
  });

  it("a stream lost to its TTL never hands its epoch to a later stream", async () => {
    let clock = 1_000_000;
    const store = new MemoryHistoryStore(() => clock);
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const p = await store.append("churn", pub(), opts);
      expect(seen.has(p.epoch)).toBe(false);
      seen.add(p.epoch);
      clock += 5000 + 997 * i; // past the TTL, at varying places in the window
    }
    await store.close();
  });

  it("two stores (a restart) give an unwritten channel different epochs", async () => {
    const a = new MemoryHistoryStore(() => 1_000_000);
    const b = new MemoryHistoryStore(() => 1_000_000);
    const pa = (await a.read("c", { limit: 0, ttlSeconds: 60 })).position;
    const pb = (await b.read("c", { limit: 0, ttlSeconds: 60 })).position;
    expect(pa.epoch).not.toBe(pb.epoch);
    await Promise.all([a.close(), b.close()]);
  });
});

describe("idempotency keys", () => {
  it("are remembered for 5 minutes by default", async () => {
    expect(defaultConfig().idempotencyWindowSeconds).toBe(300);
    let clock = 1_000_000;
    const store = new MemoryIdempotencyStore(defaultConfig().idempotencyWindowSeconds * 1000, () => clock);
    let runs = 0;
    const fn = async () => ({ offset: String(++runs), epoch: "e" });
    await store.run("ch", "k", fn);
    clock += 299_000;
    expect(await store.run("ch", "k", fn)).toEqual({ offset: "1", epoch: "e" });
    clock += 2_000;
    expect(await store.run("ch", "k", fn)).toEqual({ offset: "2", epoch: "e" });
    store.close();
  });

  it("are capped in UTF-8 bytes with a bad request that names the limit", () => {
    expect(() => checkIdempotencyKey("k".repeat(MAX_IDEMPOTENCY_KEY_BYTES))).not.toThrow();
    for (const key of ["k".repeat(MAX_IDEMPOTENCY_KEY_BYTES + 1), "é".repeat(MAX_IDEMPOTENCY_KEY_BYTES / 2 + 1)]) {
      let err: unknown;
      try {
        checkIdempotencyKey(key);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(HubError);
      expect((err as HubError).code).toBe(ErrorCode.ERROR_CODE_BAD_REQUEST);
      expect((err as HubError).message).toMatch(new RegExp(`at most ${MAX_IDEMPOTENCY_KEY_BYTES} bytes`));
    }
  });
});

function pub(): Publication {
  return { data: Buffer.from("{}"), offset: "0", epoch: "", tags: {}, info: undefined, time: "0" };
}
