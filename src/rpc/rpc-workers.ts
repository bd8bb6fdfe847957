import { randomUUID } from "node:crypto";
import type { Clock, Timer } from "../clock.js";
import { errMethodNotFound, HubError } from "../errors.js";
import type { HandleRpcResponse, RpcAnswer } from "../gen/realtime/v1/hub.js";
import { ErrorCode, type ClientInfo } from "../gen/realtime/v1/types.js";
import { globMatch } from "../channels-query.js";

/** Calls one worker may have unanswered; past it the worker is passed over (another, or 108). */
export const MAX_CALLS_PER_WORKER = 1000;

/** The backend could not answer this time: the client may try again. */
const unavailable = (msg: string) => new HubError(ErrorCode.ERROR_CODE_NOT_AVAILABLE, msg, true);

/** A backend's HandleRpc stream, as the registry sees it. */
export interface RpcWorker {
  readonly id: string;
  /** Method patterns (`*` matches any run of characters). */
  readonly methods: readonly string[];
  /** Writes one call to the backend. */
  send(call: HandleRpcResponse): void;
}

interface Pending {
  worker: RpcWorker;
  resolve(data: Buffer): void;
  reject(err: HubError): void;
  timer: Timer;
}

/**
 * The HandleRpc workers attached to this node and the calls they owe: a call goes to one
 * worker serving its method (round-robin among them), and settles with its answer, an error
 * the worker gives, a temporary 108 at the deadline, or when the worker's stream ends.
 */
export class RpcWorkers {
  private readonly workers = new Set<RpcWorker>();
  private readonly pending = new Map<string, Pending>();
  private readonly owed = new Map<RpcWorker, number>();
  private turn = 0;

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    /** Called when the set of methods served here changes (the node announces it). */
    private readonly onChange: () => void,
  ) {}

  add(worker: RpcWorker): void {
    this.workers.add(worker);
    this.owed.set(worker, 0);
    this.onChange();
  }

  /** The worker's stream ended: its unanswered calls fail, temporarily (another worker may take a retry). */
  remove(worker: RpcWorker): void {
    if (!this.workers.delete(worker)) return;
    this.owed.delete(worker);
    for (const [id, p] of this.pending)
      if (p.worker === worker) this.settle(id, (q) => q.reject(unavailable("rpc: the backend's HandleRpc stream ended before it answered")));
    this.onChange();
  }

  /** Every pattern served here, once each (for the node's announcement). */
  methods(): string[] {
    const all = new Set<string>();
    for (const w of this.workers) for (const m of w.methods) all.add(m);
    return [...all];
  }

  serves(method: string): boolean {
    for (const w of this.workers) if (w.methods.some((p) => globMatch(p, method))) return true;
    return false;
  }

  /** Calls `method` on a worker of this node; rejects with 104 when none serves it. */
  call(method: string, data: Buffer, info: ClientInfo): Promise<Buffer> {
    const able = [...this.workers].filter((w) => w.methods.some((p) => globMatch(p, method)));
    if (able.length === 0) return Promise.reject(errMethodNotFound(`no HandleRpc worker on this node serves ${JSON.stringify(method)}`));
    const free = able.filter((w) => (this.owed.get(w) ?? 0) < MAX_CALLS_PER_WORKER);
    const worker = free[this.turn++ % Math.max(1, free.length)];
    if (!worker) return Promise.reject(unavailable(`rpc: every worker serving ${JSON.stringify(method)} has ${MAX_CALLS_PER_WORKER} calls unanswered`));
    const id = randomUUID();
    return new Promise<Buffer>((resolve, reject) => {
      const timer = this.clock.setTimeout(
        () => this.settle(id, (p) => p.reject(unavailable(`rpc: the backend did not answer within ${this.timeoutMs} ms (rpcTimeoutMs)`))),
        this.timeoutMs,
      );
      this.pending.set(id, { worker, resolve, reject, timer });
      this.owed.set(worker, (this.owed.get(worker) ?? 0) + 1);
      try {
        worker.send({ id, method, data, info });
      } catch (err) {
        this.settle(id, (p) => p.reject(new HubError(108, `rpc: writing to the backend failed: ${String(err)}`)));
      }
    });
  }

  /** An answer from `worker`; one for a call it was not given (or already settled) is ignored. */
  answer(worker: RpcWorker, a: RpcAnswer): boolean {
    const p = this.pending.get(a.id);
    if (!p || p.worker !== worker) return false;
    this.settle(a.id, (q) => (a.error ? q.reject(HubError.fromWire(a.error, "refused by the backend")) : q.resolve(a.data)));
    return true;
  }

  private settle(id: string, how: (p: Pending) => void): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    this.clock.clear(p.timer);
    const left = (this.owed.get(p.worker) ?? 1) - 1;
    if (this.owed.has(p.worker)) this.owed.set(p.worker, left);
    how(p);
  }

  /** Shutdown: every unanswered call fails, temporarily. */
  close(): void {
    for (const id of [...this.pending.keys()]) this.settle(id, (p) => p.reject(unavailable("rpc: the node is shutting down")));
  }
}
