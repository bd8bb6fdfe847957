import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freePort, owned } from "./processes.js";

const MAIN = fileURLToPath(new URL("../../dist/src/main.js", import.meta.url));

export interface HubProcess {
  id: string;
  httpUrl: string;
  wsUrl: string;
  grpcAddr: string;
  output(): string;
  /** kill -9, as in a crash. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts one hub as its own process (dist build) and waits until it serves. */
export async function startHubProcess(id: string, args: string[], env: Record<string, string> = {}): Promise<HubProcess> {
  const [http, grpc] = [await freePort(), await freePort()];
  const child: ChildProcess = owned(spawn(
    process.execPath,
    [MAIN, "serve", "--dev", "--node-id", id, "--http-addr", `127.0.0.1:${http}`, "--grpc-addr", `127.0.0.1:${grpc}`, "--log-level", "info", ...args],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } },
  ));
  let out = "";
  child.stdout!.on("data", (d) => (out = (out + d).slice(-50_000)));
  child.stderr!.on("data", (d) => (out = (out + d).slice(-50_000)));
  const end = Date.now() + 30_000;
  while (!out.includes("started")) {
    if (child.exitCode !== null || Date.now() > end) {
      child.kill("SIGKILL");
      throw new Error(`hub ${id} did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const exit = (signal: NodeJS.Signals) => async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill(signal);
    const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(t);
  };
  return {
    id,
    httpUrl: `http://127.0.0.1:${http}`,
    wsUrl: `ws://127.0.0.1:${http}/connection/websocket`,
    grpcAddr: `127.0.0.1:${grpc}`,
    output: () => out,
    kill9: exit("SIGKILL"),
    stop: exit("SIGTERM"),
  };
}

/** POST /api/<method> on a hub; throws on a non-200 answer. */
export async function hubApi(h: { httpUrl: string }, method: string, body: unknown): Promise<any> {
  const res = await fetch(`${h.httpUrl}/api/${method}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const json = await res.json();
  if (res.status !== 200) throw new Error(`${method}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}
