/**
 * Runs the fuzz properties with fast-check, the same way for the CI test (fixed seed,
 * bounded count) and for `npm run fuzz` (a time budget), and words what fast-check found:
 * the seed and path to replay, the minimal input, and what went wrong.
 */
import fc from "fast-check";
import type { FuzzHub } from "./harness.js";
import { clip } from "./values.js";
import { runWsCase, wsCase } from "./ws.js";
import { httpCase, runHttpCase } from "./http-api.js";
import { edgeCase, runEdgeCase } from "./edge-query.js";
import { grpcCase, runGrpcCase } from "./grpc.js";

export interface FuzzProperty<T> {
  /** What it fuzzes, for reports. */
  title: string;
  arbitrary: fc.Arbitrary<T>;
  run: (fh: FuzzHub, input: T) => Promise<void>;
  /** Runs in the CI test (seeded, bounded). */
  ciRuns: number;
  /** Share of the time of `npm run fuzz`. */
  weight: number;
}

const prop = <T>(p: FuzzProperty<T>): FuzzProperty<unknown> => p as FuzzProperty<unknown>;

/** Every property, by the name `--only` takes. */
export const PROPERTIES: Record<string, FuzzProperty<unknown>> = {
  ws: prop({ title: "WebSocket frames (random lines and mutated commands)", arbitrary: wsCase, run: runWsCase, ciRuns: 1700, weight: 5 }),
  http: prop({ title: "HTTP API bodies (POST /api/<method>, JSON and protobuf)", arbitrary: httpCase, run: runHttpCase, ciRuns: 1200, weight: 2 }),
  edge: prop({ title: "SSE and long-poll query strings", arbitrary: edgeCase, run: runEdgeCase, ciRuns: 700, weight: 2 }),
  grpc: prop({ title: "gRPC message bytes (HubService methods)", arbitrary: grpcCase, run: runGrpcCase, ciRuns: 1200, weight: 2 }),
};

export interface PropertyReport {
  name: string;
  seed: number;
  runs: number;
  failed: boolean;
  interrupted: boolean;
  ms: number;
  /** The readable failure report (seed, replay command, minimal input, error); empty when it passed. */
  message: string;
}

export interface CheckParams {
  seed: number;
  numRuns: number;
  /** Stops starting runs (and shrinking) after this long; the report says so. */
  timeLimitMs?: number;
  /** Replays one counterexample (from a report). */
  path?: string;
  /** Limit on the time one run may take before it counts as failed. */
  runTimeoutMs?: number;
}

/** Runs one property against the hub; never throws for a property failure (see the report). */
export async function checkProperty(fh: FuzzHub, name: string, params: CheckParams): Promise<PropertyReport> {
  const p = PROPERTIES[name];
  if (!p) throw new Error(`no fuzz property ${name} (known: ${Object.keys(PROPERTIES).join(", ")})`);
  const started = Date.now();
  const plugins = [fc.timeout(params.runTimeoutMs ?? 60_000)];
  if (params.timeLimitMs !== undefined) plugins.push(fc.interruptAfterTimeLimit(params.timeLimitMs));
  const details = await fc.check(
    fc.asyncProperty(p.arbitrary, async (input) => {
      try {
        await p.run(fh, input);
      } catch (err) {
        // The run's number: its salt is in the concrete names, and a replay needs the same.
        if (err instanceof Error) (err as Error & { run?: number }).run = fh.runs;
        throw err;
      }
    }),
    {
      seed: params.seed,
      numRuns: params.numRuns,
      ...(params.path ? { path: params.path } : {}),
      plugins,
    },
  );
  const report: PropertyReport = {
    name,
    seed: params.seed,
    runs: details.numRuns,
    failed: details.failed,
    interrupted: details.interrupted,
    ms: Date.now() - started,
    message: "",
  };
  if (details.failed) report.message = failureMessage(name, p, details);
  return report;
}

function failureMessage(name: string, p: FuzzProperty<unknown>, d: fc.RunDetails<any>): string {
  const err = d.errorInstance;
  const what = err instanceof Error ? err.message : String(err);
  const run = (err as { run?: number } | undefined)?.run;
  const salt = run !== undefined ? ` --salt ${run}` : "";
  const input = d.counterexample ? fc.stringify((d.counterexample as unknown[])[0]) : "(none)";
  return [
    `Fuzz property "${name}" (${p.title}) failed after ${d.numRuns} run(s), shrunk ${d.numShrinks} time(s)${d.interrupted ? ", shrinking cut short by the time limit" : ""}.`,
    `Seed ${d.seed}, path "${d.counterexamplePath}". Replay just this input:`,
    `  npm run fuzz -- --only ${name} --seed ${d.seed} --path "${d.counterexamplePath}"${salt}`,
    `Minimal input found (symbols like «channel:hist:a» are made concrete per run${run !== undefined ? `: this one as hist:r${run}-a and so on` : ""}):`,
    `  ${clip(input, 6000)}`,
    `What went wrong:`,
    `  ${clip(what, 8000).replaceAll("\n", "\n  ")}`,
  ].join("\n");
}
