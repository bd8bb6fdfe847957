import { randomUUID } from "node:crypto";
import { status, type ServerDuplexStream } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { HandleRpcRequest, HandleRpcResponse } from "../gen/realtime/v1/hub.js";
import type { RpcWorker, RpcWorkers } from "../rpc/rpc-workers.js";

/** Bounds of a worker's `register`: patterns, and the length of each. */
const MAX_PATTERNS = 100;
const MAX_PATTERN_LENGTH = 256;

/**
 * One HandleRpc stream: a backend worker registers the methods it serves, then answers the
 * calls written to it. It serves until the stream ends (either side); its unanswered calls
 * then fail with a temporary 108. Returns what ends the stream on shutdown.
 */
export function serveRpcWorker(call: ServerDuplexStream<HandleRpcRequest, HandleRpcResponse>, workers: RpcWorkers, log: Logger): () => void {
  let worker: RpcWorker | undefined;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    if (worker) workers.remove(worker);
  };
  const fail = (code: status, details: string) => {
    if (done) return;
    finish();
    call.emit("error", { code, details });
  };
  call.on("data", (msg: HandleRpcRequest) => {
    if (done) return;
    if (msg.register) {
      if (worker) return fail(status.INVALID_ARGUMENT, "register once, as the first message");
      const methods = msg.register.methods;
      if (methods.length === 0 || methods.length > MAX_PATTERNS)
        return fail(status.INVALID_ARGUMENT, `register: name 1 to ${MAX_PATTERNS} methods (patterns with * allowed)`);
      const bad = methods.find((m) => m === "" || m.length > MAX_PATTERN_LENGTH);
      if (bad !== undefined) return fail(status.INVALID_ARGUMENT, `register: a method must be 1 to ${MAX_PATTERN_LENGTH} characters, got ${JSON.stringify(bad.slice(0, 40))}`);
      worker = { id: randomUUID(), methods: [...methods], send: (c) => void call.write(c) };
      workers.add(worker);
      return;
    }
    if (!worker) return fail(status.INVALID_ARGUMENT, "send register (the methods this worker serves) first");
    if (msg.answer && !workers.answer(worker, msg.answer))
      log.debug({ id: msg.answer.id }, "HandleRpc: an answer to no call of this worker (late, or twice)");
  });
  call.on("end", () => {
    finish();
    call.end();
  });
  call.on("cancelled", finish);
  call.on("close", finish);
  call.on("error", finish);
  return () => fail(status.UNAVAILABLE, "server shutting down: reconnect");
}
