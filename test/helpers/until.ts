/** The one way tests wait for something that happens asynchronously. */

export interface UntilOptions {
  /** Give up after this long. Default 10 s. */
  ms?: number;
  /** Named in the timeout error. */
  what?: string;
  /** Poll interval. Default 10 ms. */
  everyMs?: number;
}

type Truthy<T> = Exclude<T, false | 0 | "" | null | undefined>;

/**
 * Waits until `cond` returns something truthy (it may be async), and returns it. A `cond`
 * that throws counts as not yet (a server still starting, a socket not open); the last error
 * is named when time runs out.
 */
export async function until<T>(cond: () => T | Promise<T>, opts: number | UntilOptions = {}): Promise<Truthy<T>> {
  const { ms = 10_000, what = "condition", everyMs = 10 } = typeof opts === "number" ? { ms: opts } : opts;
  const end = Date.now() + ms;
  for (;;) {
    let last: unknown;
    try {
      const v = await cond();
      if (v) return v as Truthy<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end)
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`, { cause: last });
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Waits until `fn` stops throwing (expect(...) assertions, sync or async) and returns its
 * value; after `ms` rethrows its last error, so the test fails with the assertion's message.
 */
export async function eventually<T>(fn: () => T | Promise<T>, ms = 2000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}
