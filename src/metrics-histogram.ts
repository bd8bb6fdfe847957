import type { Metric } from "prom-client";

/**
 * Latency buckets of every histogram of the hub, in seconds: 100 µs (a local fan-out to a few
 * clients) to 10 s (a webhook near its timeout).
 */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/**
 * One latency histogram (one label set), cheap enough for the publish path: observe() is a
 * scan of 16 bounds and three increments, with no allocation (prom-client's Histogram hashes
 * its labels and makes a closure on every observe). The registry reads it through
 * HistogramFamily at scrape time.
 */
export class LatencyHistogram {
  /** Per bucket, the observations at or below its bound that are above the previous one; the last slot is +Inf. */
  readonly counts = new Float64Array(LATENCY_BUCKETS.length + 1);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    this.counts[i]!++;
    this.sum += seconds;
    this.count++;
  }

  /** Observes the time since `startMs` (a performance.now() reading). */
  since(startMs: number): void {
    this.observe((performance.now() - startMs) / 1000);
  }
}

interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/**
 * A Prometheus histogram made of LatencyHistograms, one per label set, read at scrape time
 * (prom-client's Registry takes any object with name, help, type and get()).
 */
export class HistogramFamily {
  readonly type = "histogram";
  readonly aggregator = "sum";

  constructor(
    readonly name: string,
    readonly help: string,
    /** The label sets and their histograms, read at each scrape (a new label set appears when it is added). */
    private readonly children: () => Iterable<[Record<string, string>, LatencyHistogram]>,
  ) {}

  get(): Promise<{ name: string; help: string; type: "histogram"; aggregator: "sum"; values: Sample[] }> {
    const values: Sample[] = [];
    for (const [labels, h] of this.children()) {
      let cumulative = 0;
      LATENCY_BUCKETS.forEach((le, i) => {
        cumulative += h.counts[i]!;
        values.push({ labels: { ...labels, le }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...labels, le: "+Inf" }, value: h.count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: h.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: h.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {}

  /** For Registry.registerMetric, whose type wants a prom-client class. */
  asMetric(): Metric {
    return this as unknown as Metric;
  }
}
