import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { KNOWN_ERRORS, codeLabel } from "../metrics-codes.js";
import { LATENCY_BUCKETS } from "../metrics-histogram.js";
import type { CallKind } from "./calls.js";

/** How one call ended: the backend's answer, or no usable answer at all. */
export type Outcome = "result" | "error" | "disconnect" | "failed";

/**
 * Webhook metrics by call kind. Made before the node's registry exists, so they register
 * nowhere until registerOn() (the HTTP edge creates the registry).
 */
export class ProxyMetrics {
  private readonly calls = new Counter({
    name: "realtime_proxy_calls_total",
    help: "Webhook calls by kind and outcome (result, error, disconnect: the backend's answer; failed: none)",
    labelNames: ["call", "outcome"],
    registers: [],
  });
  private readonly errors = new Counter({
    name: "realtime_proxy_errors_total",
    help: "Webhook calls that failed the operation, by kind and the error code the client got (protocol codes; other: the backend's own)",
    labelNames: ["call", "code"],
    registers: [],
  });
  private readonly duration = new Histogram({
    name: "realtime_proxy_duration_seconds",
    help: "Webhook call latency by kind (notifications: each attempt), with the buckets of every latency histogram of the hub",
    labelNames: ["call"],
    buckets: [...LATENCY_BUCKETS],
    registers: [],
  });
  private readonly dropped = new Counter({
    name: "realtime_proxy_notifications_dropped_total",
    help: "Disconnect/unsubscribe notifications given up on (retried past proxyNotifyRetrySeconds, or queue full)",
    labelNames: ["call", "reason"],
    registers: [],
  });
  private readonly pending: Gauge;

  constructor(read: () => number) {
    this.pending = new Gauge({
      name: "realtime_proxy_notifications_pending",
      help: "Notifications queued or being sent",
      registers: [],
      collect() {
        this.set(read());
      },
    });
  }

  observe(call: CallKind, outcome: Outcome, seconds: number, errorCode?: number): void {
    this.calls.inc({ call, outcome });
    this.duration.observe({ call }, seconds);
    if (errorCode !== undefined) this.errors.inc({ call, code: codeLabel(KNOWN_ERRORS, errorCode) });
  }

  drop(call: CallKind, reason: "expired" | "queue_full"): void {
    this.dropped.inc({ call, reason });
  }

  registerOn(registry: Registry): void {
    for (const m of [this.calls, this.errors, this.duration, this.dropped, this.pending]) registry.registerMetric(m);
  }
}
