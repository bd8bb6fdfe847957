/**
 * `npm run bench`: how many publication deliveries per second one hub process sustains to N
 * WebSocket subscribers of one channel, the publish->receive latency, and the server's RSS
 * per connection; and the same for a bare `ws` broadcast server, the ceiling.
 *
 * Processes: this orchestrator (also the gRPC publisher), the target server (hub or bare-ws)
 * and the load generator (bench/load-gen.ts) holding the N subscribers. Per target and N the
 * offered publication rate rises step by step (offered deliveries/s = rate x N doubling from
 * 50k/s) until the target stops keeping up; every step, loop and wait is bounded.
 *
 * Env:
 *   BENCH_CLIENTS=1000,10000        subscriber counts
 *   BENCH_SECONDS=2                 measured seconds per rate step
 *   BENCH_TARGETS=bare-ws,bare-ws-batched,hub
 *   BENCH_PAYLOAD=64                filler bytes in each payload
 *   BENCH_PUBLISH=stream            gRPC PublishStream (default) or `unary` Publish calls
 *   BENCH_P99_LIMIT_MS=500          a step whose delivery p99 exceeds this is not keeping up
 *   BENCH_OTHER_LIMIT=30            a step during which other processes used more than this
 *                                   (% of one core) is repeated, not counted
 *   BENCH_BUDGET_SECONDS=280        the whole run stops rising rates past this (hard stop +60 s)
 *   BENCH_HUB_ARGS="..."            extra hub flags; BENCH_HUB_NODE_ARGS="--cpu-prof ..." node flags
 *   BENCH_BASE_REF=<commit>         A/B in one run: also measure the hub built from that commit
 *                                   (target `hub@<commit>`, run right before `hub` at each N)
 *   BENCH_MODE=cross-node BENCH_BROKERS=redis,nats,kafka,rabbitmq
 *                                   publish into node A, subscribers on node B, through a broker
 */
import { fork, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { credentials } from "@grpc/grpc-js";
import { HubServiceClient, type PublishRequest, type PublishStreamRequest, type PublishStreamResponse } from "../src/gen/realtime/v1/hub.js";
import type { BareCommand } from "./bare-ws-server.js";
import type { GenCommand, GenReport } from "./load-gen.js";
import { payload } from "./payload.js";

const CLIENTS = (process.env.BENCH_CLIENTS ?? "1000,10000").split(",").map(Number).filter((n) => n > 0);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const FILLER = "x".repeat(Number(process.env.BENCH_PAYLOAD ?? 64));
const P99_LIMIT_MS = Number(process.env.BENCH_P99_LIMIT_MS ?? 500);
const BUDGET_S = Number(process.env.BENCH_BUDGET_SECONDS ?? 280);
const BASE_REF = process.env.BENCH_BASE_REF ?? "";
const TARGETS = withBase((process.env.BENCH_TARGETS ?? "bare-ws,bare-ws-batched,hub").split(",") as Target[]);

/** With BENCH_BASE_REF, `hub@<ref>` goes right before `hub`: both measured under the same conditions. */
function withBase(targets: Target[]): Target[] {
  if (!BASE_REF) return targets;
  const i = targets.indexOf("hub");
  const base = `hub@${BASE_REF}` as Target;
  return i < 0 ? [...targets, base] : [...targets.slice(0, i), base, ...targets.slice(i)];
}
/** Offered deliveries per second (publication rate x subscribers), step by step. */
const LADDER = [50e3, 100e3, 200e3, 400e3, 800e3, 1.6e6, 3.2e6, 6.4e6, 12.8e6];
/** The "moderate" step: 100k deliveries/s, e.g. 100 msg/s to 1000 subscribers. */
const MODERATE = 100e3;
const SETTLE_MS = 500;
/** A step during which other processes used more than this (% of one core) is repeated. */
const OTHER_LIMIT = Number(process.env.BENCH_OTHER_LIMIT ?? 30);
const CHANNEL = "bench";

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const started = Date.now();
const deadline = started + BUDGET_S * 1000;
const secondsLeft = () => (deadline - Date.now()) / 1000;

type Target = "hub" | `hub@${string}` | "bare-ws" | "bare-ws-batched" | `cross-node:${string}`;

interface Step {
  rate: number;
  offered: number;
  delivered: number;
  p50: number;
  p99: number;
  max: number;
  serverCpu: number;
  genCpu: number;
  /** CPU used by everything outside this bench (other processes, unattributed kernel work), % of one core. */
  otherCpu: number;
  publisherBacklog: number;
  /** Publish -> ack latency over gRPC PublishStream, ms (hub only). */
  ackP50: number;
  ackP99: number;
  /** Deliveries kept up (see `measure`). */
  keptUp: boolean;
  /** Kept up, and publish acks came back within the latency limit too. */
  acksInTime: boolean;
  /** Other processes took CPU during the step: it neither counts nor stops the ladder. */
  disturbed: boolean;
}

interface Result {
  target: string;
  clients: number;
  connectSeconds: number;
  /** Highest deliveries/s among the steps the target kept up with. */
  saturation: number;
  saturationRate: number;
  /** The same, counting only steps whose publish acks also came back in time (hub). */
  ackSaturation: number;
  ackSaturationRate: number;
  /** Highest deliveries/s seen in any step, kept up or not. */
  peak: number;
  moderate: Step | undefined;
  atSaturation: Step | undefined;
  rssPerConnKiB: number;
  stoppedBy: string;
  problems: string[];
  steps: Step[];
}

// ---- processes ------------------------------------------------------------------------

const children = new Set<ChildProcess>();
function track(p: ChildProcess): ChildProcess {
  children.add(p);
  p.once("exit", () => children.delete(p));
  return p;
}
function killAll(): void {
  for (const p of children) p.kill("SIGKILL");
}
process.on("exit", killAll);
process.on("SIGINT", () => process.exit(130));
process.on("SIGTERM", () => process.exit(143));
// Hard stop: whatever hangs, the run ends.
setTimeout(() => {
  console.error(`bench: hard time limit (${BUDGET_S + 60} s) reached; stopping`);
  process.exit(2);
}, (BUDGET_S + 60) * 1000).unref();

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout) || 100;
/** CPU seconds (user + system) a process has used. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / CLK_TCK; // fields 14 and 15 of stat(5)
  } catch {
    return NaN;
  }
}

/** CPU seconds the whole machine has been busy (all cores, everything but idle and iowait). */
function machineBusySeconds(): number {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  return (f.reduce((a, b) => a + b, 0) - f[3]! - f[4]!) / CLK_TCK;
}

function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** CPU the rest of the machine uses, % of one core, over `ms`. */
async function otherLoad(ms: number): Promise<number> {
  const [b0, o0] = [machineBusySeconds(), ownCpuSeconds()];
  await sleep(ms);
  return (100 * (machineBusySeconds() - b0 - (ownCpuSeconds() - o0))) / (ms / 1000);
}

/** Waits (at most `maxMs`) until other processes leave the CPUs alone; returns their last load. */
async function waitIdle(maxMs: number): Promise<number> {
  const end = Date.now() + maxMs;
  let load = await otherLoad(500);
  while (load > OTHER_LIMIT && Date.now() < end) load = await otherLoad(500);
  return load;
}

/** The soft limit of open files, as a node child process gets it. */
function openFilesLimit(): number {
  const m = /Max open files\s+(\d+|unlimited)/.exec(readFileSync("/proc/self/limits", "utf8"));
  return !m || m[1] === "unlimited" ? Infinity : Number(m[1]);
}

function localPorts(): number {
  try {
    const [lo, hi] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    return hi! - lo! + 1;
  } catch {
    return Infinity;
  }
}

/** Sends `msg`, waits for the first message of `type`, for at most `ms`. */
function ask<T>(child: ChildProcess, msg: GenCommand | BareCommand | null, type: string, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no "${type}" from child ${child.pid} within ${ms} ms`)), ms);
    const onMsg = (m: { type?: string }) => m?.type === type && done(undefined, m as T);
    const onExit = (code: number | null, sig: string | null) => done(new Error(`child ${child.pid} exited (${code ?? sig}) while waiting for "${type}"`));
    function done(err: Error | undefined, value?: T) {
      clearTimeout(timer);
      child.off("message", onMsg);
      child.off("exit", onExit);
      if (err) reject(err);
      else resolve(value!);
    }
    child.on("message", onMsg);
    child.once("exit", onExit);
    if (msg) child.send(msg);
  });
}

/** The last few KiB a child printed, to show when it dies. */
function tail(p: ChildProcess): () => string {
  let buf = "";
  const keep = (d: Buffer) => (buf = (buf + d.toString()).slice(-4096));
  p.stdout?.on("data", keep);
  p.stderr?.on("data", keep);
  return () => buf;
}

// ---- publishers -----------------------------------------------------------------------

interface Publisher {
  setRate(rate: number): void;
  /** Sent and not acked yet. */
  backlog(): number;
  /** Starts collecting ack latencies; `acks()` returns those since, in ms (hub only). */
  mark(): void;
  acks(): number[];
  problem(): string;
  close(): void;
}

/**
 * Publishes into the hub over gRPC, paced by elapsed time (10 ms ticks): over one
 * PublishStream (BENCH_PUBLISH=stream, the default: one ack per message, in order) or one
 * unary Publish call per message (BENCH_PUBLISH=unary).
 */
function grpcPublisher(addr: string): Publisher {
  const client = new HubServiceClient(addr, credentials.createInsecure());
  const unary = process.env.BENCH_PUBLISH === "unary";
  let sent = 0;
  let acked = 0;
  let failure = "";
  let ackLatencies: number[] = [];
  const onAck = (t0: number, err: string) => {
    acked++;
    ackLatencies.push(performance.now() - t0);
    if (err) failure ||= err;
  };
  // Stream acks come back in request order: the send times of the unacked messages.
  const sentAt: number[] = [];
  let head = 0;
  const stream = unary ? undefined : client.publishStream();
  stream?.on("data", (ack: PublishStreamResponse) => {
    onAck(sentAt[head++] ?? NaN, ack.error ? `publish ack error ${ack.error.code}: ${ack.error.message}` : "");
    if (head > 4096) {
      sentAt.splice(0, head);
      head = 0;
    }
  });
  stream?.on("error", (err: Error) => (failure ||= `PublishStream: ${err.message}`));
  const publish = (seq: number) => {
    const req: PublishRequest = { channel: CHANNEL, data: Buffer.from(payload(seq, FILLER)), idempotencyKey: "", skipHistory: true, tags: {} };
    const t0 = performance.now();
    if (stream) {
      sentAt.push(t0);
      stream.write({ id: String(seq), publish: req } satisfies PublishStreamRequest);
    } else client.publish(req, (err) => onAck(t0, err ? `Publish: ${err.message}` : ""));
  };
  let timer: NodeJS.Timeout | undefined;
  return {
    setRate(rate) {
      clearInterval(timer);
      if (!rate) return;
      let credit = 0;
      let last = performance.now();
      timer = setInterval(() => {
        const t = performance.now();
        credit += (rate * (t - last)) / 1000;
        last = t;
        for (; credit >= 1; credit--) publish(++sent);
      }, 10);
    },
    backlog: () => sent - acked,
    mark: () => void (ackLatencies = []),
    acks: () => ackLatencies,
    problem: () => failure,
    close() {
      clearInterval(timer);
      stream?.end();
      client.close();
    },
  };
}

// ---- targets --------------------------------------------------------------------------

interface Server {
  /** The process whose RSS and CPU are reported (the subscribers' hub). */
  pid: number;
  /** Every server process (two hubs in cross-node mode). */
  pids: number[];
  wsUrl: string;
  publisher: Publisher;
  /** Why the server is unusable now, or "". */
  problem(): string;
  stop(): Promise<void>;
}

/**
 * Builds the hub of `ref` once, in a temporary copy of that commit (git archive) that shares
 * this checkout's node_modules, and returns its main.js. Nothing in the checkout changes.
 */
const baseBuilds = new Map<string, string>();
function buildBase(ref: string): string {
  const known = baseBuilds.get(ref);
  if (known) return known;
  const root = here("../..");
  const run = (cmd: string, args: string[], cwd: string) => {
    const r = spawnSync(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr?.toString() || r.error?.message}`);
    return r.stdout.toString();
  };
  const sha = run("git", ["rev-parse", "--short", ref], root).trim();
  const dir = mkdtempSync(join(tmpdir(), `rh-bench-${sha}-`));
  const tar = spawnSync("git", ["archive", "--format=tar", sha], { cwd: root, maxBuffer: 512 * 1024 * 1024 });
  if (tar.status !== 0) throw new Error(`git archive ${sha}: ${tar.stderr.toString()}`);
  const untar = spawnSync("tar", ["-x", "-C", dir], { input: tar.stdout });
  if (untar.status !== 0) throw new Error(`tar: ${untar.stderr.toString()}`);
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
  run(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], dir);
  const main = join(dir, "dist/src/main.js");
  console.log(`bench: hub@${ref} is ${sha}, built in ${dir}`);
  baseBuilds.set(ref, main);
  return main;
}

async function spawnHub(
  extraArgs: string[],
  main = here("../src/main.js"),
): Promise<{ proc: ChildProcess; wsUrl: string; grpcAddr: string; output: () => string }> {
  const [http, grpc] = [await freePort(), await freePort()];
  // Publication fan-out only. --dev turns presence, join/leave and history on for every
  // namespace; with join/leave on, N subscribers joining one channel cost N^2 join pushes,
  // which is not what is measured here.
  const cfg = join(mkdtempSync(join(tmpdir(), "rh-bench-")), "hub.json");
  writeFileSync(cfg, JSON.stringify({ channelDefaults: { presence: false, joinLeave: false, historySize: 0, allowPublish: false } }));
  const nodeArgs = (process.env.BENCH_HUB_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const hubArgs = (process.env.BENCH_HUB_ARGS ?? "").split(" ").filter(Boolean);
  const args = [
    ...nodeArgs,
    main,
    ...["serve", "--dev", "--config", cfg, "--http-addr", `127.0.0.1:${http}`, "--grpc-addr", `127.0.0.1:${grpc}`],
    // A large per-client queue: the bench measures throughput, not the slow-client cut-off.
    ...["--log-level", "warn", "--client-queue-max-bytes", String(64 * 1024 * 1024)],
    ...extraArgs,
    ...hubArgs,
  ];
  const proc = track(spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] }));
  const output = tail(proc);
  const end = Date.now() + 20_000;
  while (!(await fetch(`http://127.0.0.1:${http}/health`).then((r) => r.ok, () => false))) {
    if (proc.exitCode !== null || Date.now() > end) {
      proc.kill("SIGKILL");
      throw new Error(`hub did not start (${proc.exitCode !== null ? `exit ${proc.exitCode}` : "no /health within 20 s"}): ${output()}`);
    }
    await sleep(100);
  }
  return { proc, wsUrl: `ws://127.0.0.1:${http}/connection/websocket`, grpcAddr: `127.0.0.1:${grpc}`, output };
}

async function stopProcess(p: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once("exit", r));
  p.kill(signal);
  await Promise.race([exited, sleep(3000)]);
  p.kill("SIGKILL");
}

async function startTarget(target: Target, brokerArgs: string[]): Promise<Server> {
  if (target === "hub" || target.startsWith("hub@") || target.startsWith("cross-node:")) {
    const main = target.startsWith("hub@") ? buildBase(target.slice(4)) : undefined;
    const sub = await spawnHub(brokerArgs, main);
    const hubs = [sub];
    if (target.startsWith("cross-node:")) {
      hubs.push(await spawnHub(brokerArgs));
      await sleep(target.endsWith("kafka") ? 6000 : 500); // consumer groups join
    }
    const publisher = grpcPublisher(hubs[hubs.length - 1]!.grpcAddr);
    return {
      pid: sub.proc.pid!,
      pids: hubs.map((h) => h.proc.pid!),
      wsUrl: sub.wsUrl,
      publisher,
      problem: () => {
        const dead = hubs.find((h) => h.proc.exitCode !== null || h.proc.signalCode !== null);
        return dead ? `hub exited (${dead.proc.exitCode ?? dead.proc.signalCode}): ${dead.output()}` : publisher.problem();
      },
      async stop() {
        publisher.close();
        await Promise.all(hubs.map((h) => stopProcess(h.proc)));
      },
    };
  }
  const proc = track(
    fork(here("./bare-ws-server.js"), [], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: { ...process.env, BARE_WS_BATCHED: target === "bare-ws-batched" ? "1" : "0" },
    }),
  );
  const { port } = await ask<{ port: number }>(proc, null, "listening", 10_000);
  const send = (c: BareCommand) => proc.connected && proc.send(c);
  return {
    pid: proc.pid!,
    pids: [proc.pid!],
    wsUrl: `ws://127.0.0.1:${port}/connection/websocket`,
    publisher: {
      setRate: (rate) => send({ type: "rate", rate, payload: FILLER }),
      backlog: () => 0,
      mark: () => undefined,
      acks: () => [],
      problem: () => "",
      close: () => send({ type: "rate", rate: 0, payload: "" }),
    },
    problem: () => (proc.exitCode !== null ? `bare-ws server exited (${proc.exitCode})` : ""),
    async stop() {
      send({ type: "close" });
      await stopProcess(proc, "SIGKILL");
    },
  };
}

// ---- one measurement ------------------------------------------------------------------

type Window = Extract<GenReport, { type: "window" }>;

async function measure(target: Target, clients: number, brokerArgs: string[] = []): Promise<Result> {
  const result: Result = {
    target,
    clients,
    connectSeconds: NaN,
    saturation: NaN,
    saturationRate: NaN,
    ackSaturation: NaN,
    ackSaturationRate: NaN,
    peak: NaN,
    moderate: undefined,
    atSaturation: undefined,
    rssPerConnKiB: NaN,
    stoppedBy: "",
    problems: [],
    steps: [],
  };
  let server: Server | undefined;
  let gen: ChildProcess | undefined;
  try {
    const load = await waitIdle(20_000);
    if (load > OTHER_LIMIT) console.error(`  ${target}: other processes still use ${load.toFixed(0)}% of a core; starting anyway`);
    server = await startTarget(target, brokerArgs);
    await sleep(500);
    const rssBefore = rssKiB(server.pid);
    gen = track(fork(here("./load-gen.js"), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] }));
    const connectMs = Math.max(30_000, clients * 6);
    const conn = await ask<Extract<GenReport, { type: "connected" }>>(
      gen,
      { type: "connect", url: server.wsUrl, count: clients, channel: CHANNEL, deadlineMs: connectMs },
      "connected",
      connectMs + 25_000,
    );
    result.clients = conn.ready;
    result.connectSeconds = conn.ms / 1000;
    if (conn.failed) result.problems.push(`${conn.failed}/${clients} subscribers failed to subscribe; first: ${conn.firstError}`);
    if (conn.ready === 0) throw new Error(`no subscriber could subscribe: ${conn.firstError}`);
    console.log(`  ${target}: ${conn.ready} subscribers in ${(conn.ms / 1000).toFixed(1)} s`);
    await sleep(2000); // let the connection burst (and its garbage) settle before reading RSS
    result.rssPerConnKiB = (rssKiB(server.pid) - rssBefore) / conn.ready;

    // Rates double until a step fails; a failed step is repeated once (on a shared 2-core
    // machine one bad window can be noise); then at most two steps bisect (geometrically)
    // between the last good rate and the first bad one.
    let lastGood = 0;
    let firstBad = Infinity;
    let retried = false;
    let refinements = 0;
    let disturbed = 0;
    const refine = () => {
      if (refinements < 2 && lastGood && firstBad / lastGood > 1.15) {
        refinements++;
        queue.push(Math.round(Math.sqrt(firstBad * lastGood)));
      }
    };
    const ladder = LADDER.map((d) => Math.max(1, Math.round(d / conn.ready)));
    const queue = [...new Set(ladder)];
    const maxSteps = queue.length + 3 + 7;
    while (queue.length && result.steps.length < maxSteps) {
      if (secondsLeft() < SECONDS + 2) {
        result.stoppedBy = "time budget";
        break;
      }
      const rate = queue.shift()!;
      server.publisher.setRate(rate);
      await sleep(SETTLE_MS);
      const ours = () => server!.pids.reduce((a, p) => a + cpuSeconds(p), 0) + cpuSeconds(gen!.pid!) + ownCpuSeconds();
      const cpu0 = [cpuSeconds(server.pid), cpuSeconds(gen.pid!), performance.now(), machineBusySeconds(), ours()] as const;
      await ask(gen, { type: "window-start" }, "ok", 30_000);
      server.publisher.mark();
      const backlog0 = server.publisher.backlog();
      await sleep(SECONDS * 1000);
      const w = await ask<Window>(gen, { type: "window-end" }, "window", 30_000);
      const wall = (performance.now() - cpu0[2]) / 1000;
      const backlog = server.publisher.backlog();
      const acks = server.publisher.acks().sort((a, b) => a - b);
      const pick = (p: number) => (acks.length ? acks[Math.min(acks.length - 1, Math.ceil((p / 100) * acks.length) - 1)]! : NaN);
      const problem = server.problem();
      const step: Step = {
        rate,
        offered: rate * conn.ready,
        delivered: w.received / w.seconds,
        p50: w.p50,
        p99: w.p99,
        max: w.max,
        serverCpu: (100 * (cpuSeconds(server.pid) - cpu0[0])) / wall,
        genCpu: (100 * (cpuSeconds(gen.pid!) - cpu0[1])) / wall,
        otherCpu: (100 * (machineBusySeconds() - cpu0[3] - (ours() - cpu0[4]))) / wall,
        publisherBacklog: backlog,
        ackP50: pick(50),
        ackP99: pick(99),
        keptUp: false,
        acksInTime: false,
        disturbed: false,
      };
      // Keeping up: (nearly) everything offered arrives, delivery latency stays bounded, the
      // publisher's acks do not fall further and further behind (the unacked count grows by
      // more than a tenth of what was sent, or passes 5 s worth), nobody was cut off.
      const why = [
        step.delivered < 0.95 * step.offered && `delivered ${fmt(step.delivered)}/s of ${fmt(step.offered)}/s offered`,
        !(step.p99 <= P99_LIMIT_MS) && `p99 ${step.p99.toFixed(0)} ms > ${P99_LIMIT_MS} ms`,
        (backlog - backlog0 > Math.max(20, 0.1 * rate * SECONDS) || backlog > 5 * rate) &&
          `publish acks falling behind (${backlog0} -> ${backlog} unacked)`,
        w.closed > 0 && `${w.closed} subscribers closed by the server (${w.closeReason})`,
        problem,
      ].filter(Boolean) as string[];
      step.keptUp = why.length === 0 && !(step.otherCpu > OTHER_LIMIT);
      // A step where only the acks are slow still counts for fan-out; it is reported apart.
      step.acksInTime = step.keptUp && !(step.ackP99 > P99_LIMIT_MS);
      result.steps.push(step);
      console.log(
        `  ${target.padEnd(15)} N=${conn.ready} rate=${String(rate).padStart(6)}/s delivered=${fmt(step.delivered).padStart(9)}/s ` +
          `p50=${step.p50.toFixed(1)}ms p99=${step.p99.toFixed(1)}ms cpu server=${step.serverCpu.toFixed(0)}% load-gen=${step.genCpu.toFixed(0)}% other=${step.otherCpu.toFixed(0)}%` +
          (Number.isFinite(step.ackP99) ? ` ack p50=${step.ackP50.toFixed(1)}ms p99=${step.ackP99.toFixed(1)}ms` : "") +
          (why.length && step.otherCpu <= OTHER_LIMIT ? `  [not keeping up: ${why.join("; ")}]` : "") +
          (step.keptUp && !step.acksInTime ? `  [acks slow: p99 ${step.ackP99.toFixed(0)} ms > ${P99_LIMIT_MS} ms]` : ""),
      );
      if (step.otherCpu > OTHER_LIMIT && !problem && w.closed === 0) {
        step.disturbed = true;
        if (++disturbed > 6) {
          result.stoppedBy = "machine busy: other processes kept taking CPU";
          result.problems.push(`figures incomplete: ${disturbed} steps were disturbed by other processes (BENCH_OTHER_LIMIT=${OTHER_LIMIT}% of a core)`);
          break;
        }
        console.log(`    (disturbed: other processes used ${step.otherCpu.toFixed(0)}% of a core; waiting for quiet and repeating the step)`);
        server.publisher.setRate(0);
        await sleep(1000);
        await waitIdle(15_000);
        queue.unshift(rate);
        continue;
      }
      if (problem || w.closed > 0) {
        result.problems.push(...[problem, w.closed > 0 && `${w.closed} subscribers closed by the server: ${w.closeReason}`].filter((x): x is string => !!x));
        result.stoppedBy = "target failure";
        break;
      }
      if (step.keptUp) {
        lastGood = Math.max(lastGood, rate);
        if (firstBad < Infinity) refine();
        continue;
      }
      result.stoppedBy = why.join("; ");
      // Let the backlog of the failed step drain before the next one.
      server.publisher.setRate(0);
      await sleep(Math.min(5000, 1000 + (Number.isFinite(step.p99) ? 2 * step.p99 : 5000)));
      if (!retried) {
        retried = true;
        queue.unshift(rate);
      } else {
        firstBad = Math.min(firstBad, rate);
        queue.length = 0;
        refine();
      }
    }
    server.publisher.setRate(0);
    const kept = result.steps.filter((s) => s.keptUp);
    const best = kept.reduce<Step | undefined>((a, b) => (!a || b.delivered > a.delivered ? b : a), undefined);
    result.atSaturation = best;
    result.saturation = best?.delivered ?? NaN;
    result.saturationRate = best?.rate ?? NaN;
    const bestAck = kept.filter((s) => s.acksInTime).reduce<Step | undefined>((a, b) => (!a || b.delivered > a.delivered ? b : a), undefined);
    result.ackSaturation = bestAck?.delivered ?? NaN;
    result.ackSaturationRate = bestAck?.rate ?? NaN;
    const counted = result.steps.filter((s) => !s.disturbed);
    result.peak = Math.max(...counted.map((s) => s.delivered));
    result.moderate = counted.find((s) => s.rate === Math.max(1, Math.round(MODERATE / conn.ready)));
    if (result.stoppedBy === "" && result.steps.length) result.stoppedBy = "top of the rate ladder";
  } catch (err) {
    result.problems.push((err as Error).message);
    console.error(`  ${target} N=${clients}: ${(err as Error).message}`);
  } finally {
    if (gen?.connected) gen.send({ type: "close" } satisfies GenCommand);
    if (gen) await stopProcess(gen, "SIGKILL");
    await server?.stop();
  }
  return result;
}

// ---- the run --------------------------------------------------------------------------

function fmt(n: number): string {
  if (!Number.isFinite(n)) return "n/a";
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}
const ms = (s: Step | undefined) => (s ? `${s.p50.toFixed(1)} / ${s.p99.toFixed(1)}` : "n/a");

/** Starts what one broker needs (real processes, loopback) and returns the hub flags. */
async function brokerSetup(broker: string): Promise<{ args: string[]; stop(): Promise<void> }> {
  const p = await import("../test/helpers/processes.js");
  const redis = await p.startRedisServer();
  const withRedis = ["--presence", "redis", "--history", "redis", "--redis-url", redis.url];
  switch (broker) {
    case "redis":
      return { args: ["--broker", "redis", "--redis-url", redis.url], stop: () => redis.stop() };
    case "nats": {
      const nats = await p.startNatsServer();
      return { args: ["--broker", "nats", "--nats-url", nats.url, ...withRedis], stop: async () => (await nats.stop(), await redis.stop()) };
    }
    case "kafka": {
      const kafka = await p.startKafkaMock(["rhb.0", "rhb.1", "rhb.2", "rhb.3"]);
      return {
        args: ["--broker", "kafka", "--kafka-brokers", kafka.bootstrap, "--kafka-prefix", "rhb", "--kafka-create-topics", "false", "--kafka-session-timeout-ms", "3000", "--kafka-heartbeat-interval-ms", "300", ...withRedis],
        stop: async () => (await kafka.stop(), await redis.stop()),
      };
    }
    case "rabbitmq": {
      const url = await p.rabbitMqVhost("rh-bench");
      return { args: ["--broker", "rabbitmq", "--amqp-url", url, "--amqp-exchange", `rhb${Date.now()}`, ...withRedis], stop: () => redis.stop() };
    }
  }
  await redis.stop();
  throw new Error(`unknown broker ${broker}`);
}

const fdLimit = openFilesLimit();
const ports = localPorts();
const runnable = CLIENTS.filter((n) => {
  // Each of the server and the load generator holds N sockets plus its own few dozen.
  if (n + 256 > fdLimit) {
    console.error(
      `bench: skipping N=${n}: the server and the load generator each need about ${n + 256} open files, ` +
        `but the limit is ${fdLimit} (ulimit -n). Raise it (e.g. \`ulimit -n ${Math.max(65536, n * 2)}\`) or lower BENCH_CLIENTS.`,
    );
    return false;
  }
  if (n > ports - 1000) {
    console.error(`bench: skipping N=${n}: only ${ports} local ports (net.ipv4.ip_local_port_range) for ${n} loopback connections.`);
    return false;
  }
  return true;
});

const idleCheck = await otherLoad(1000);
if (idleCheck > OTHER_LIMIT)
  console.error(
    `bench: WARNING: other processes use ${idleCheck.toFixed(0)}% of a core right now; they compete with the target and the ` +
      `load generator for the CPUs, so the figures will be low. Run the bench on an otherwise idle machine.`,
  );

console.log(
  `realtime-hub bench: node ${process.version}, ${(await import("node:os")).cpus().length} CPUs, open files ${fdLimit}, ` +
    `${SECONDS} s per step, payload filler ${FILLER.length} B, p99 limit ${P99_LIMIT_MS} ms, budget ${BUDGET_S} s`,
);
const results: Result[] = [];
if (process.env.BENCH_MODE === "cross-node") {
  for (const broker of (process.env.BENCH_BROKERS ?? "redis,nats,kafka,rabbitmq").split(",")) {
    for (const n of runnable) {
      console.log(`\n== cross-node via ${broker}, ${n} subscribers on node B, publishing into node A`);
      let setup: Awaited<ReturnType<typeof brokerSetup>> | undefined;
      try {
        setup = await brokerSetup(broker);
        results.push(await measure(`cross-node:${broker}`, n, setup.args));
      } catch (err) {
        console.error(`  ${broker}: ${(err as Error).message}`);
      } finally {
        await setup?.stop();
      }
    }
  }
} else {
  for (const n of runnable) {
    console.log(`\n== ${n} subscribers`);
    for (const target of TARGETS) {
      if (secondsLeft() < 15) {
        console.error(`  ${target} N=${n}: skipped, time budget (BENCH_BUDGET_SECONDS=${BUDGET_S}) used up`);
        continue;
      }
      results.push(await measure(target, n));
    }
  }
}

const ceiling = (r: Result, t: string) => results.find((x) => x.target === t && x.clients === r.clients)?.saturation ?? NaN;
const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? (a / b).toFixed(2) : "n/a");
console.log(
  "\nDeliveries/s = publications x subscribers received per second. Saturation = the highest rate step the target kept up with " +
    `(>= 95% of offered delivered, delivery p99 <= ${P99_LIMIT_MS} ms, publish acks not falling behind, nobody cut off); ` +
    `"with acks in time" also asks publish-ack p99 <= ${P99_LIMIT_MS} ms (hub). Peak = the most delivered in any step. ` +
    `Moderate = ${fmt(MODERATE)} deliveries/s.\n`,
);
console.log(
  "| subscribers | target | deliveries/s at saturation (msg/s published) | with acks in time | peak deliveries/s | vs bare-ws | vs bare-ws-batched | " +
    "p50 / p99 ms at moderate | p50 / p99 ms at saturation | ack p50 / p99 ms at saturation | CPU server / load-gen at saturation | RSS per connection |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const r of results) {
  const s = r.atSaturation;
  console.log(
    `| ${r.clients} | ${r.target} | ${fmt(r.saturation)} (${Number.isFinite(r.saturationRate) ? r.saturationRate : "n/a"}) | ` +
      `${r.target.startsWith("bare-ws") ? "-" : `${fmt(r.ackSaturation)} (${Number.isFinite(r.ackSaturationRate) ? r.ackSaturationRate : "n/a"})`} | ${fmt(r.peak)} | ` +
      `${ratio(r.saturation, ceiling(r, "bare-ws"))} | ${ratio(r.saturation, ceiling(r, "bare-ws-batched"))} | ${ms(r.moderate)} | ${ms(s)} | ` +
      `${s && Number.isFinite(s.ackP99) ? `${s.ackP50.toFixed(1)} / ${s.ackP99.toFixed(1)}` : "-"} | ` +
      `${s ? `${s.serverCpu.toFixed(0)}% / ${s.genCpu.toFixed(0)}%` : "n/a"} | ${Number.isFinite(r.rssPerConnKiB) ? r.rssPerConnKiB.toFixed(1) + " KiB" : "n/a"} |`,
  );
}
console.log("");
for (const r of results) console.log(`${r.target} N=${r.clients}: rates stopped rising: ${r.stoppedBy || "n/a"}`);
for (const r of results) {
  const busy = r.steps.filter((s) => s.disturbed).length;
  if (busy) console.log(`\n${r.target} N=${r.clients}: ${busy} step(s) disturbed by other processes were repeated and not counted.`);
}
for (const r of results) {
  if (r.problems.length) console.log(`\n${r.target} N=${r.clients}: ${r.problems.join("\n  ")}`);
}
const round = (n: number, d = 1) => (Number.isFinite(n) ? Math.round(n * 10 ** d) / 10 ** d : null);
console.log(
  "\nJSON " +
    JSON.stringify({
      node: process.version,
      cpus: (await import("node:os")).cpus().length,
      seconds: SECONDS,
      publish: process.env.BENCH_PUBLISH === "unary" ? "unary" : "stream",
      payloadFiller: FILLER.length,
      p99LimitMs: P99_LIMIT_MS,
      elapsedSeconds: round((Date.now() - started) / 1000),
      otherCpuAtStartPct: round(idleCheck, 0),
      results: results.map((r) => ({
        target: r.target,
        clients: r.clients,
        saturationDeliveriesPerSec: round(r.saturation, 0),
        saturationPublishRate: round(r.saturationRate, 0),
        ackInTimeSaturationDeliveriesPerSec: round(r.ackSaturation, 0),
        ackInTimeSaturationPublishRate: round(r.ackSaturationRate, 0),
        peakDeliveriesPerSec: round(r.peak, 0),
        ratioToBareWs: round(r.saturation / ceiling(r, "bare-ws"), 2),
        ratioToBareWsBatched: round(r.saturation / ceiling(r, "bare-ws-batched"), 2),
        moderateP50Ms: round(r.moderate?.p50 ?? NaN),
        moderateP99Ms: round(r.moderate?.p99 ?? NaN),
        saturationP50Ms: round(r.atSaturation?.p50 ?? NaN),
        saturationP99Ms: round(r.atSaturation?.p99 ?? NaN),
        saturationAckP50Ms: round(r.atSaturation?.ackP50 ?? NaN),
        saturationAckP99Ms: round(r.atSaturation?.ackP99 ?? NaN),
        rssPerConnKiB: round(r.rssPerConnKiB),
        maxOtherCpuPct: round(Math.max(...r.steps.filter((s) => !s.disturbed).map((s) => s.otherCpu)), 0),
        disturbedSteps: r.steps.filter((s) => s.disturbed).length,
        connectSeconds: round(r.connectSeconds),
        stoppedBy: r.stoppedBy,
        problems: r.problems,
      })),
    }),
);
process.exit(results.some((r) => r.problems.length) ? 1 : 0);
