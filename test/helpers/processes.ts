import { spawn, type ChildProcess } from "node:child_process";
import { createServer, connect } from "node:net";
import { existsSync } from "node:fs";

/** A free loopback TCP port (bound and released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

export async function waitForPort(port: number, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect(port, "127.0.0.1");
      sock.once("connect", () => {
        sock.destroy();
        resolve(true);
      });
      sock.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Children this test process started and has not seen exit. */
const children = new Set<ChildProcess>();
let exitHook = false;

/**
 * Marks `child` as this test process's: killed when the process exits, so a suite that fails
 * or times out mid-way leaves no server behind (orphaned hubs kept running after a cluster
 * test timed out once).
 */
export function owned<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once("exit", () => children.delete(child));
  if (!exitHook) {
    exitHook = true;
    process.once("exit", () => {
      for (const c of children) c.kill("SIGKILL");
    });
  }
  return child;
}

/** A server process the test owns: it can be killed (-9) and started again on the same port. */
export class ServerProcess {
  private child: ChildProcess | null = null;
  output = "";

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly command: string,
    private readonly args: string[],
  ) {}

  async start(): Promise<this> {
    const child = owned(spawn(this.command, this.args, { stdio: ["ignore", "pipe", "pipe"] }));
    this.child = child;
    child.stdout.on("data", (d) => (this.output = (this.output + d).slice(-20_000)));
    child.stderr.on("data", (d) => (this.output = (this.output + d).slice(-20_000)));
    try {
      await waitForPort(this.port);
    } catch (err) {
      child.kill("SIGKILL");
      throw new Error(`${this.name} did not start: ${(err as Error).message}\n${this.output}`);
    }
    return this;
  }

  /** The running server's pid. */
  get pid(): number {
    const pid = this.child?.pid;
    if (!pid) throw new Error(`${this.name} is not running`);
    return pid;
  }

  /** kill -9: no goodbye to clients, as in a crash. */
  async kill9(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill("SIGKILL");
    await exited;
    this.child = null;
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill("SIGTERM");
    const t = setTimeout(() => c.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(t);
    this.child = null;
  }
}

/** SIGSTOP `pid` and wait until it is stopped: a server that keeps its connections but reads nothing. */
export async function stall(pid: number): Promise<void> {
  process.kill(pid, "SIGSTOP");
  const { readFileSync } = await import("node:fs");
  const end = Date.now() + 5000;
  while (readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "")[0] !== "T") {
    if (Date.now() > end) throw new Error(`process ${pid} did not stop`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function which(binary: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/usr/bin", "/sbin"])) {
    const p = `${dir}/${binary}`;
    if (existsSync(p)) return p;
  }
  return null;
}

/** redis-server on a free port, nothing kept on disk. */
export async function startRedisServer(): Promise<ServerProcess & { url: string }> {
  const bin = which("redis-server");
  if (!bin) throw new Error("redis-server not found (Debian package redis-server)");
  const port = await freePort();
  const p = new ServerProcess("redis-server", port, bin, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"]);
  await p.start();
  return Object.assign(p, { url: `redis://127.0.0.1:${port}` });
}

/** nats-server on a free port. */
export async function startNatsServer(): Promise<ServerProcess & { url: string }> {
  const bin = which("nats-server");
  if (!bin) throw new Error("nats-server not found (Debian package nats-server)");
  const port = await freePort();
  const p = new ServerProcess("nats-server", port, bin, ["-a", "127.0.0.1", "-p", String(port)]);
  await p.start();
  return Object.assign(p, { url: `nats://127.0.0.1:${port}` });
}

/** A file of test/helpers, found from test/helpers (vitest) and from dist/test/helpers (the built bench). */
async function helperFile(name: string): Promise<string> {
  const { fileURLToPath } = await import("node:url");
  const here = fileURLToPath(new URL(`./${name}`, import.meta.url));
  return existsSync(here) ? here : fileURLToPath(new URL(`../../../test/helpers/${name}`, import.meta.url));
}

let portsShim: Promise<string> | undefined;

/**
 * test/helpers/kafka-mock-ports.c built into a shared object (with the machine's `cc`), once
 * per version of the source, in a directory of the temp dir that only this user can write
 * (it is LD_PRELOADed, so nobody else's file may be taken for it).
 */
function kafkaMockPortsShim(): Promise<string> {
  portsShim ??= (async () => {
    const { readFile, mkdir, rename, stat, rm } = await import("node:fs/promises");
    const { createHash, randomBytes } = await import("node:crypto");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { execFile } = await import("node:child_process");
    const source = await helperFile("kafka-mock-ports.c");
    const hash = createHash("sha256").update(await readFile(source)).digest("hex").slice(0, 16);
    const dir = join(tmpdir(), `realtime-hub-${process.getuid?.() ?? "u"}-kafka-mock-ports-${hash}`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const st = await stat(dir);
    if (st.uid !== process.getuid?.() || (st.mode & 0o022) !== 0) throw new Error(`${dir} is not this user's own directory`);
    const so = join(dir, "kafka-mock-ports.so");
    if (existsSync(so)) return so;
    const cc = which("cc") ?? which("gcc");
    if (!cc) throw new Error("restarting the Kafka mock on its ports needs a C compiler (cc) to build test/helpers/kafka-mock-ports.c");
    // Built under a name of its own, then renamed: suites running at once never load half a file.
    const tmp = `${so}.${process.pid}.${randomBytes(4).toString("hex")}`;
    await new Promise<void>((resolve, reject) =>
      execFile(cc, ["-shared", "-fPIC", "-O2", "-o", tmp, source, "-ldl"], (err, _out, stderr) => (err ? reject(new Error(`cc ${source}: ${stderr || err.message}`)) : resolve())),
    );
    await rename(tmp, so).catch(async (err) => {
      await rm(tmp, { force: true });
      throw err;
    });
    return so;
  })();
  portsShim.catch(() => (portsShim = undefined));
  return portsShim;
}

/** librdkafka's mock Kafka cluster, in a process of its own (see startKafkaMock). */
export interface KafkaMock {
  /** `127.0.0.1:<port>,...`, one per broker; the same after a restart. */
  readonly bootstrap: string;
  /** Mock fault injection: broker `id` refuses connections (the process lives on). */
  down(id: number): void;
  up(id: number): void;
  /** kill -9 of the launcher: the whole cluster vanishes at once, with everything it stored. */
  kill9(): Promise<void>;
  /** A new, empty cluster on the same ports, with the same pre-created topics (after kill9). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The launcher's stderr (librdkafka logs), for failure messages. */
  output(): string;
}

/**
 * librdkafka's mock Kafka cluster (Debian package librdkafka1), through test/helpers/kafka-mock.py.
 * Topics are pre-created (the mock has no CreateTopics). `down(id)`/`up(id)` inject broker faults;
 * `kill9()` and `start()` crash the whole cluster and bring an empty one back where it was.
 *
 * The mock binds its brokers to 127.0.0.1 port 0, and librdkafka 2.0.2 has no setting for the
 * port (rd_kafka_mock_broker_new; only the number of brokers is configurable). Clients learn the
 * brokers' addresses from the bootstrap list and from metadata, so a restart must listen on the
 * same ports: `start()` runs the launcher with test/helpers/kafka-mock-ports.c LD_PRELOADed,
 * which turns those port-0 binds into the ports of the first start, one per broker in id
 * order. The first start leaves the choice to the kernel, as before (no compiler needed unless
 * a test restarts). A restart retries while a port is still taken: the kernel hands out odd
 * ephemeral ports to bind(0) and prefers even ones for clients' connect(), so reconnecting
 * clients practically never sit on them, but a moment's race must not fail a test.
 */
export async function startKafkaMock(topics: string[], partitions = 4): Promise<KafkaMock> {
  const script = await helperFile("kafka-mock.py");
  const args = [script, ...topics.flatMap((t) => ["--topic", `${t}:${partitions}`])];
  let err = "";
  let child: ChildProcess | null = null;

  /** Spawns the launcher; resolves with the child and the bootstrap servers it printed. */
  const launch = (env: NodeJS.ProcessEnv) =>
    new Promise<{ c: ChildProcess; bootstrap: string }>((resolve, reject) => {
      const c = owned(spawn("/usr/bin/python3", args, { stdio: ["pipe", "pipe", "pipe"], env }));
      // Writes to a killed launcher's stdin fail with EPIPE; callers check `child` instead.
      c.stdin.on("error", () => undefined);
      c.stderr.on("data", (d) => (err = (err + d).slice(-5000)));
      let out = "";
      const t = setTimeout(() => {
        c.kill("SIGKILL");
        reject(new Error(`kafka mock did not start: ${err}`));
      }, 10_000);
      c.stdout.on("data", (d) => {
        out += d;
        if (out.includes("\n")) {
          clearTimeout(t);
          resolve({ c, bootstrap: out.split("\n")[0]!.trim() });
        }
      });
      c.once("exit", (code, signal) => {
        clearTimeout(t);
        reject(new Error(`kafka mock exited ${code ?? signal}: ${err}`));
      });
    });

  const first = await launch(process.env);
  child = first.c;
  const bootstrap = first.bootstrap;
  const ports = bootstrap.split(",").map((hp) => hp.slice(hp.lastIndexOf(":") + 1));

  const running = (): ChildProcess => {
    if (!child || child.exitCode !== null || child.signalCode !== null) throw new Error("kafka mock is not running");
    return child;
  };
  /** Ends the launcher `how` says, SIGKILL after 3 s; resolves once it is gone. */
  const exit = async (how: (c: ChildProcess) => void) => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    how(c);
    const t = setTimeout(() => c.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(t);
  };
  return {
    bootstrap,
    output: () => err,
    down: (id) => void running().stdin!.write(`down ${id}\n`),
    up: (id) => void running().stdin!.write(`up ${id}\n`),
    kill9: () => exit((c) => c.kill("SIGKILL")),
    start: async () => {
      if (child && child.exitCode === null && child.signalCode === null) return;
      const preload = [process.env.LD_PRELOAD, await kafkaMockPortsShim()].filter(Boolean).join(":");
      // For the launcher only: nothing else of the test gets its binds rewritten.
      const env = { ...process.env, LD_PRELOAD: preload, KAFKA_MOCK_PORTS: ports.join(",") };
      const end = Date.now() + 15_000;
      for (;;) {
        let started: { c: ChildProcess; bootstrap: string };
        try {
          started = await launch(env);
        } catch (e) {
          // Most likely a port still taken (the launcher exits when a bind fails): again shortly.
          if (Date.now() > end) throw new Error(`kafka mock did not restart on ${bootstrap}: ${(e as Error).message}`);
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        child = started.c;
        if (started.bootstrap !== bootstrap) {
          await exit((c) => c.kill("SIGKILL"));
          throw new Error(`kafka mock restarted on ${started.bootstrap}, not ${bootstrap}`);
        }
        return;
      }
    },
    // The launcher lives until its stdin closes.
    stop: () => exit((c) => c.stdin!.end()),
  };
}

/**
 * The machine's RabbitMQ (127.0.0.1:5672) under a vhost of our own, created with rabbitmqctl
 * (Debian package rabbitmq-server), so tests never touch anyone else's exchanges.
 */
export async function rabbitMqVhost(vhost: string): Promise<string> {
  const { execFileSync } = await import("node:child_process");
  const ctl = which("rabbitmqctl");
  if (!ctl) throw new Error("rabbitmqctl not found (Debian package rabbitmq-server)");
  try {
    execFileSync(ctl, ["add_vhost", vhost], { stdio: "ignore" });
  } catch {
    // exists already
  }
  execFileSync(ctl, ["set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], { stdio: "ignore" });
  await waitForPort(5672, 30_000);
  return `amqp://guest:guest@127.0.0.1:5672/${encodeURIComponent(vhost)}`;
}

/** The names of the hub's connections in a Redis server's CLIENT LIST (`observer` is any client of it). */
export async function hubRedisClients(observer: { client(sub: "LIST"): Promise<unknown> }): Promise<string[]> {
  const list = (await observer.client("LIST")) as string;
  return list
    .split("\n")
    .map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1] ?? "")
    .filter((name) => name.startsWith("realtime-hub:"));
}
