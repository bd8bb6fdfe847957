import type { Logger } from "pino";
import type { NotifyKind } from "./calls.js";

/** One notification being delivered: `send` makes one attempt and rejects on failure. */
interface Pending {
  kind: NotifyKind;
  send: () => Promise<void>;
  firstAt: number;
  attempts: number;
}

/** Notifications waiting at once; past it the oldest is dropped (and counted). */
const MAX_PENDING_NOTIFICATIONS = 10_000;
/** Attempts running at once, so a flood of disconnects cannot open thousands of requests. */
const CONCURRENCY = 16;
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 10_000;

/**
 * Delivers disconnect and unsubscribe notifications at least once: each is sent in the
 * background and retried with backoff until the backend takes it or `retryMs` pass. Nothing
 * waits for it, so a slow or dead backend never holds up a connection.
 */
export class Notifier {
  private readonly queue: Pending[] = [];
  private running = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private drained: (() => void) | undefined;
  /** Set once close() has waited its grace period. */
  private closing = false;

  constructor(
    private readonly retryMs: number,
    private readonly log: Logger,
    private readonly onDrop: (kind: NotifyKind, reason: "expired" | "queue_full") => void,
  ) {}

  get pending(): number {
    return this.queue.length + this.running + this.timers.size;
  }

  push(kind: NotifyKind, send: () => Promise<void>): void {
    // Counted with those waiting for a retry: while the app is down, that is where they are.
    if (this.pending >= MAX_PENDING_NOTIFICATIONS) {
      const old = this.queue.shift();
      if (!old) return this.drop(kind, "queue_full");
      this.drop(old.kind, "queue_full");
    }
    this.queue.push({ kind, send, firstAt: Date.now(), attempts: 0 });
    this.pump();
  }

  private drop(kind: NotifyKind, reason: "expired" | "queue_full", err?: unknown, attempts?: number): void {
    this.onDrop(kind, reason);
    if (reason === "queue_full") this.log.warn({ call: kind }, "notifications: more than 10,000 waiting, dropped one");
    else this.log.warn({ err, call: kind, attempts }, "notification not taken by the backend in proxyNotifyRetrySeconds: dropped");
  }

  private pump(): void {
    while (this.running < CONCURRENCY && this.queue.length > 0) {
      const n = this.queue.shift()!;
      this.running++;
      n.attempts++;
      n.send().then(
        () => this.done(),
        (err: unknown) => {
          // The retry is scheduled first, so close() does not see the notifier drained in between.
          this.retry(n, err);
          this.done();
        },
      );
    }
    if (this.pending === 0) this.drained?.();
  }

  private done(): void {
    this.running--;
    this.pump();
  }

  private retry(n: Pending, err: unknown): void {
    const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (n.attempts - 1));
    if (this.closing || Date.now() + delay - n.firstAt > this.retryMs) return this.drop(n.kind, "expired", err, n.attempts);
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.queue.push(n);
      this.pump();
    }, delay);
    t.unref();
    this.timers.add(t);
  }

  /** Waits until everything is sent or `graceMs` pass; what is left is dropped. */
  async close(graceMs: number): Promise<void> {
    if (this.pending > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, graceMs);
        this.drained = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    // Attempts still running that fail from here on are dropped, not retried.
    this.closing = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.queue.length + this.running > 0) this.log.warn({ left: this.queue.length + this.running }, "shutdown: notifications not delivered");
    this.queue.length = 0;
  }
}
