import type { ServerResponse } from "node:http";
import type { Disconnect } from "../errors.js";
import { Frame } from "../protocol/frame.js";
import type { Transport } from "../transport.js";

const NEWLINE = Buffer.from("\n");

/**
 * Long-polling: frames queue here until the client's next poll takes them (newline-separated
 * JSON). The queue is bounded by the session's slow-client check (queuedBytes).
 */
export class LongPollTransport implements Transport {
  readonly name = "longpoll";
  readonly bidirectional = false;
  private queue: Buffer[] = [];
  private bytes = 0;
  private waiting: { res: ServerResponse; timer: NodeJS.Timeout } | null = null;
  private flushScheduled = false;
  private closedFlag = false;
  /** When the client last polled (the edge closes sessions that stop polling). */
  lastPoll: number;

  /** `now`: the node's clock, which the endpoint's reaper reads too. */
  constructor(private readonly now: () => number = Date.now) {
    this.lastPoll = now();
  }

  write(frame: Frame): void {
    if (this.closedFlag) return;
    const b = frame.json();
    this.queue.push(b, NEWLINE);
    this.bytes += b.length + 1;
    this.scheduleFlush();
  }

  queuedBytes(): number {
    return this.bytes;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** A poll request: answered now if frames are queued, else when one arrives or after `timeoutMs`. */
  poll(res: ServerResponse, timeoutMs: number): void {
    this.lastPoll = this.now();
    // One outstanding poll per session: the older one returns now (empty or not).
    if (this.waiting) this.answerWaiting();
    if (this.bytes > 0 || this.closedFlag) return this.respond(res);
    const timer = setTimeout(() => this.answerWaiting(), timeoutMs);
    this.waiting = { res, timer };
    res.on("close", () => {
      if (this.waiting?.res === res) {
        clearTimeout(timer);
        this.waiting = null;
      }
    });
  }

  close(d: Disconnect): void {
    if (this.closedFlag) return;
    const push = { channel: "", disconnect: { code: d.code, reason: d.reason, reconnect: d.reconnect } };
    this.write(new Frame({ id: 0, error: undefined, push }));
    this.closedFlag = true;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || !this.waiting) return;
    this.flushScheduled = true;
    // Batch frames published in the same tick into one response.
    setImmediate(() => {
      this.flushScheduled = false;
      if (this.waiting && this.bytes > 0) this.answerWaiting();
    });
  }

  private answerWaiting(): void {
    const w = this.waiting;
    if (!w) return;
    this.waiting = null;
    clearTimeout(w.timer);
    this.respond(w.res);
  }

  private respond(res: ServerResponse): void {
    // A poll whose client went away must not take the queue with it.
    if (res.writableEnded || res.destroyed) return;
    const body = Buffer.concat(this.queue, this.bytes);
    this.queue = [];
    this.bytes = 0;
    res.writeHead(200, { "Content-Type": "application/x-ndjson", "Cache-Control": "no-store" });
    res.end(body);
  }
}
