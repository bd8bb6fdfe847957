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
    const child = spawn(this.command, this.args, { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    child.stdout!.on("data", (d) => (this.output = (this.output + d).slice(-20_000)));
    child.stderr!.on("data", (d) => (this.output = (this.output + d).slice(-20_000)));
    try {
      await waitForPort(this.port);
    } catch (err) {
      child.kill("SIGKILL");
      throw new Error(`${this.name} did not start: ${(err as Error).message}\n${this.output}`);
    }
    return this;
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

/**
 * librdkafka's mock Kafka cluster (Debian package librdkafka1), through test/helpers/kafka-mock.py.
 * Topics are pre-created (the mock has no CreateTopics). `down(id)`/`up(id)` inject broker faults.
 */
export async function startKafkaMock(topics: string[], partitions = 4): Promise<{ bootstrap: string; stop(): Promise<void>; down(id: number): void; up(id: number): void }> {
  // Found from test/helpers (vitest) and from dist/test/helpers (the built bench).
  const { fileURLToPath } = await import("node:url");
  let script = fileURLToPath(new URL("./kafka-mock.py", import.meta.url));
  if (!existsSync(script)) script = fileURLToPath(new URL("../../../test/helpers/kafka-mock.py", import.meta.url));
  const child = spawn("/usr/bin/python3", [script, ...topics.flatMap((t) => ["--topic", `${t}:${partitions}`])], { stdio: ["pipe", "pipe", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d) => (err = (err + d).slice(-5000)));
  const bootstrap = await new Promise<string>((resolve, reject) => {
    let out = "";
    const t = setTimeout(() => reject(new Error(`kafka mock did not start: ${err}`)), 10_000);
    child.stdout!.on("data", (d) => {
      out += d;
      const line = out.split("\n")[0]!;
      if (out.includes("\n")) {
        clearTimeout(t);
        resolve(line.trim());
      }
    });
    child.once("exit", (code) => reject(new Error(`kafka mock exited ${code}: ${err}`)));
  });
  return {
    bootstrap,
    down: (id) => child.stdin!.write(`down ${id}\n`),
    up: (id) => child.stdin!.write(`up ${id}\n`),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.stdin!.end();
      setTimeout(() => child.kill("SIGKILL"), 3000).unref();
      await exited;
    },
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
