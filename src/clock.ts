/**
 * Time as the node sees it: the wall clock and timers. Injected so tests can move time
 * instead of sleeping through gap waits, presence refreshes and announcements.
 */
export interface Clock {
  now(): number;
  /** Runs `fn` once after `ms`; never keeps the process alive on its own. */
  setTimeout(fn: () => void, ms: number): Timer;
  /** Runs `fn` every `ms`; never keeps the process alive on its own. */
  setInterval(fn: () => void, ms: number): Timer;
  clear(timer: Timer | undefined): void;
}

/** A pending timer of a Clock (opaque to its users). */
export type Timer = { readonly __timer: true };

/** The process's own clock; timers are unref'd, so a node never holds the process open. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref() as unknown as Timer,
  setInterval: (fn, ms) => setInterval(fn, ms).unref() as unknown as Timer,
  clear: (timer) => clearTimeout(timer as unknown as NodeJS.Timeout),
};
