import type { Logger } from "pino";
import type { Clock } from "./clock.js";

/** At most one "broker publish failed" line per this interval. */
const INTERVAL_MS = 5000;

/**
 * The warning for broker publishes that failed. During an outage every publish fails: one line
 * per interval saying how many failed since the last, since a line each would flood the log (the
 * node's counter has them all).
 */
export class PublishFailureLog {
  private loggedAt = 0;
  private unlogged = 0;

  constructor(
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {}

  failed(err: unknown, channel: string): void {
    this.unlogged++;
    const now = this.clock.now();
    if (now - this.loggedAt < INTERVAL_MS) return;
    this.loggedAt = now;
    const failures = this.unlogged;
    this.unlogged = 0;
    this.log.warn({ err, channel, failures }, "broker publish failed; delivered locally only");
  }
}
