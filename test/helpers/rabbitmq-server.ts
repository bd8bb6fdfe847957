import { execFile, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { connect as amqpConnect } from "amqplib";
import { freePort, waitForPort, which } from "./processes.js";

/**
 * Debian's package (rabbitmq-server) keeps the real scripts here. /usr/sbin/rabbitmq-server is
 * only a wrapper: run as root it `su`s to the rabbitmq user and cds to /var/lib/rabbitmq, and
 * refuses anyone else; we call the real script directly, as the current user.
 */
const SCRIPTS = "/usr/lib/rabbitmq/bin";

/** What a private RabbitMQ node needs on this machine; null when all is there. */
export function rabbitMqServerMissing(): string | null {
  if (!existsSync(`${SCRIPTS}/rabbitmq-server`)) return `${SCRIPTS}/rabbitmq-server (Debian package rabbitmq-server)`;
  if (!which("epmd")) return "epmd (Debian package erlang-base)";
  return null;
}

export interface RabbitMqServer {
  /** amqp://guest:guest@127.0.0.1:<port>/ (the default vhost). */
  readonly url: string;
  readonly port: number;
  readonly nodename: string;
  /** How long the last start() took, in ms (spawn to a working AMQP handshake). */
  readonly lastStartMs: number;
  /** The beam.smp process of the running node, or null. */
  readonly pid: number | null;
  /** Starts the node again on the same ports and data directory (durable things survive). */
  start(): Promise<void>;
  /** SIGKILL to the Erlang VM (beam.smp) and the rest of its process group: a crash. */
  kill9(): Promise<void>;
  /** rabbitmqctl against this node (not the machine's); resolves with its stdout. */
  ctl(...args: string[]): Promise<string>;
  /** Node (gracefully, SIGKILL after 20 s) and its epmd stopped, data directory removed. Final. */
  stop(): Promise<void>;
  /** The last lines of the node's output and log file. */
  logTail(lines?: number): string;
}

/** Process groups still alive, killed if the test process exits without stop(). */
const live = new Set<number>();
let exitHook = false;
function track(pid: number): void {
  live.add(pid);
  if (exitHook) return;
  exitHook = true;
  process.on("exit", () => {
    for (const p of live) killGroup(p, "SIGKILL");
  });
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // gone already
  }
}

/**
 * A RabbitMQ node of our own, on free loopback ports, with its data, logs, config, cookie and
 * Erlang port mapper (epmd) in a temporary directory, so it can be killed -9 and restarted without
 * touching the machine's RabbitMQ service (which keeps its own node, port 5672 and epmd on 4369).
 *
 * What Debian's scripts (3.10) honour: rabbitmq-env sources RABBITMQ_CONF_ENV_FILE (by default
 * /etc/rabbitmq/rabbitmq-env.conf, which names the machine's node), so we point it at an empty file
 * of ours; RABBITMQ_CONFIG_FILE(S) likewise keep /etc/rabbitmq/rabbitmq.conf (which binds 5672)
 * and conf.d out. RABBITMQ_ALLOW_INPUT makes the script `exec` erl instead of running it behind a
 * trap-and-wait shell, so the process we spawn *is* beam.smp (-noinput is passed by hand, as the
 * script would have). Each node runs in its own process group (kill9 takes erl_child_setup and
 * the port programs with it) and its own epmd on a free port (ERL_EPMD_PORT): the node never
 * starts a daemonised epmd that would outlive the test, nor registers with the machine's.
 */
export async function startRabbitMqServer(opts: { startTimeoutMs?: number } = {}): Promise<RabbitMqServer> {
  const missing = rabbitMqServerMissing();
  if (missing) throw new Error(`cannot start a private RabbitMQ node: missing ${missing}`);
  const startTimeoutMs = opts.startTimeoutMs ?? 60_000;
  const [port, distPort, epmdPort] = [await freePort(), await freePort(), await freePort()];
  const nodename = `rh-${port}@localhost`;
  const dir = mkdtempSync(join(tmpdir(), "rh-rabbitmq-"));
  for (const d of ["mnesia", "log", "conf.d"]) mkdirSync(join(dir, d));
  writeFileSync(join(dir, "rabbitmq-env.conf"), "");
  writeFileSync(join(dir, "enabled_plugins"), "[].\n");
  // A test machine's disk may be fuller than the default 50 MB alarm threshold cares for.
  writeFileSync(join(dir, "rabbitmq.conf"), ["disk_free_limit.absolute = 1MB", "log.file.level = info", "log.console = false", ""].join("\n"));
  const cookie = join(dir, ".erlang.cookie");
  writeFileSync(cookie, randomBytes(20).toString("hex"));
  chmodSync(cookie, 0o400);
  const logFile = join(dir, "log", "rabbit.log");

  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith("RABBITMQ_") && !k.startsWith("ERL_") && k !== "NOTIFY_SOCKET" && k !== "HOME") base[k] = v;
  const env: NodeJS.ProcessEnv = {
    ...base,
    HOME: dir, // the Erlang cookie
    LC_ALL: "C.UTF-8",
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: "127.0.0.1",
    RABBITMQ_CONF_ENV_FILE: join(dir, "rabbitmq-env.conf"),
    RABBITMQ_CONFIG_FILE: join(dir, "rabbitmq.conf"),
    RABBITMQ_CONFIG_FILES: join(dir, "conf.d"),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, "advanced.config"),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, "enabled_plugins"),
    RABBITMQ_NODENAME: nodename,
    RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, "mnesia"),
    RABBITMQ_LOG_BASE: join(dir, "log"),
    RABBITMQ_LOGS: logFile,
    RABBITMQ_PID_FILE: join(dir, "rabbit.pid"),
    RABBITMQ_ALLOW_INPUT: "true",
    RABBITMQ_SERVER_START_ARGS: "-noinput",
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: "-kernel inet_dist_use_interface {127,0,0,1}",
  };

  let output = "";
  const append = (d: Buffer | string) => (output = (output + d).slice(-20_000));
  let epmd: ChildProcess | null = null;
  let node: ChildProcess | null = null;
  let lastStartMs = 0;
  const url = `amqp://guest:guest@127.0.0.1:${port}/`;

  const tail = (lines = 40): string => {
    let log = "";
    try {
      log = readFileSync(logFile, "utf8");
    } catch {
      // not written yet
    }
    const last = (s: string) => s.split("\n").slice(-lines).join("\n");
    return `--- ${nodename} output ---\n${last(output)}\n--- ${logFile} ---\n${last(log)}`;
  };

  const exited = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;
  const waitExit = (c: ChildProcess) => (exited(c) ? Promise.resolve() : new Promise<void>((r) => c.once("exit", () => r())));

  async function startEpmd(): Promise<void> {
    const c = spawn(which("epmd")!, ["-port", String(epmdPort), "-address", "127.0.0.1"], { detached: true, stdio: ["ignore", "pipe", "pipe"], env, cwd: dir });
    epmd = c;
    track(c.pid!);
    c.stdout.on("data", append);
    c.stderr.on("data", append);
    await waitForPort(epmdPort, 10_000).catch((err) => {
      throw new Error(`epmd did not start: ${(err as Error).message}\n${tail()}`);
    });
  }

  async function amqpReady(): Promise<boolean> {
    try {
      const c = await amqpConnect(url);
      await c.close();
      return true;
    } catch {
      return false;
    }
  }

  async function start(): Promise<void> {
    if (node && !exited(node)) throw new Error(`${nodename} is running already`);
    if (!epmd || exited(epmd)) await startEpmd();
    const began = Date.now();
    const c = spawn(`${SCRIPTS}/rabbitmq-server`, [], { detached: true, stdio: ["ignore", "pipe", "pipe"], env, cwd: dir });
    node = c;
    track(c.pid!);
    c.stdout.on("data", append);
    c.stderr.on("data", append);
    c.once("exit", () => live.delete(c.pid!));
    // Listeners open at the end of the boot; a handshake also proves the guest user is there.
    for (;;) {
      if (exited(c)) throw new Error(`${nodename} exited during start (${c.exitCode ?? c.signalCode})\n${tail()}`);
      if (Date.now() - began > startTimeoutMs) {
        killGroup(c.pid!, "SIGKILL");
        await waitExit(c);
        throw new Error(`${nodename} did not accept AMQP on 127.0.0.1:${port} within ${startTimeoutMs} ms\n${tail()}`);
      }
      if (await amqpReady()) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    lastStartMs = Date.now() - began;
    const comm = readFileSync(`/proc/${c.pid}/comm`, "utf8").trim();
    if (comm !== "beam.smp") throw new Error(`${nodename}: expected to run as beam.smp, found ${comm} (pid ${c.pid})`);
  }

  async function kill9(): Promise<void> {
    const c = node;
    if (!c || exited(c)) return;
    const gone = waitExit(c);
    killGroup(c.pid!, "SIGKILL");
    await gone;
    node = null;
  }

  async function stop(): Promise<void> {
    const c = node;
    if (c && !exited(c)) {
      const gone = waitExit(c);
      c.kill("SIGTERM"); // the VM shuts RabbitMQ down cleanly on SIGTERM
      const t = setTimeout(() => killGroup(c.pid!, "SIGKILL"), 20_000);
      await gone;
      clearTimeout(t);
      // Whatever of its group is left (port programs) goes too.
      killGroup(c.pid!, "SIGKILL");
      live.delete(c.pid!);
    }
    node = null;
    const e = epmd;
    if (e && !exited(e)) {
      const gone = waitExit(e);
      killGroup(e.pid!, "SIGKILL");
      await gone;
      live.delete(e.pid!);
    }
    epmd = null;
    rmSync(dir, { recursive: true, force: true });
  }

  function ctl(...args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(`${SCRIPTS}/rabbitmqctl`, ["-n", nodename, ...args], { env, cwd: dir, timeout: 60_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`rabbitmqctl ${args.join(" ")}: ${err.message}\n${stderr}`));
        else resolve(stdout);
      });
    });
  }

  try {
    await start();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    port,
    nodename,
    get lastStartMs() {
      return lastStartMs;
    },
    get pid() {
      return node && !exited(node) ? node.pid! : null;
    },
    start,
    kill9,
    ctl,
    stop,
    logTail: tail,
  };
}
