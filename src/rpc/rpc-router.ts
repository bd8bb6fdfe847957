import { randomUUID } from "node:crypto";
import type { Clock, Timer } from "../clock.js";
import { globMatch } from "../channels-query.js";
import { errMethodNotFound, HubError, toHubError } from "../errors.js";
import type { Control, RpcCall } from "../gen/realtime/v1/broker.js";
import type { NodeInfo } from "../gen/realtime/v1/hub.js";
import { ErrorCode, type ClientInfo } from "../gen/realtime/v1/types.js";
import type { RpcWorkers } from "./rpc-workers.js";

/** What the router needs of its node. */
export interface RpcNode {
  readonly id: string;
  /** The other nodes heard recently, with the methods their workers serve. */
  peers(): NodeInfo[];
  sendControl(control: Control, onFailure?: () => void): void;
}

/** The caller waits this much longer than the serving node, so the serving node's own timeout (a clearer error) arrives first. */
const REMOTE_MARGIN_MS = 500;
const NO_INFO: ClientInfo = { user: "", client: "", connInfo: Buffer.alloc(0), chanInfo: Buffer.alloc(0) };

/**
 * Browser rpc without a webhook (the broker-first mode): a call goes to a HandleRpc worker on
 * this node when one serves the method, else to one node whose announcement lists a matching
 * method (one node, so a call runs once), through the broker, and its reply comes back the
 * same way.
 */
export class RpcRouter {
  private readonly waiting = new Map<string, { resolve(b: Buffer): void; reject(e: HubError): void; timer: Timer }>();

  constructor(
    readonly workers: RpcWorkers,
    private readonly node: RpcNode,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
  ) {}

  call(method: string, data: Buffer, info: ClientInfo): Promise<Buffer> {
    if (this.workers.serves(method)) return this.workers.call(method, data, info);
    const peers = this.node.peers().filter((p) => p.rpcMethods.some((m) => globMatch(m, method)));
    if (peers.length === 0)
      return Promise.reject(errMethodNotFound(`no backend serves rpc method ${JSON.stringify(method)}: no rpc webhook for it, and no HandleRpc worker on any node`));
    const peer = peers[Math.floor(Math.random() * peers.length)]!;
    const requestId = randomUUID();
    return new Promise<Buffer>((resolve, reject) => {
      const timer = this.clock.setTimeout(
        () => this.settle(requestId, (w) => w.reject(unavailable(`rpc: node ${peer.id} did not answer within ${this.timeoutMs} ms (rpcTimeoutMs)`))),
        this.timeoutMs + REMOTE_MARGIN_MS,
      );
      this.waiting.set(requestId, { resolve, reject, timer });
      this.node.sendControl({ rpcCall: { requestId, to: peer.id, method, data, info } }, () =>
        this.settle(requestId, (w) => w.reject(unavailable("rpc: the broker did not take the call"))),
      );
    });
  }

  /** An rpc control envelope (true), or not one (false). */
  onControl(control: Control, origin: string): boolean {
    if (control.rpcCall) {
      if (control.rpcCall.to === this.node.id) this.serve(control.rpcCall, origin);
      return true;
    }
    if (control.rpcReply) {
      const r = control.rpcReply;
      if (r.to === this.node.id) this.settle(r.requestId, (w) => (r.error ? w.reject(HubError.fromWire(r.error, "refused by the backend")) : w.resolve(r.data)));
      return true;
    }
    return false;
  }

  /** Another node's call for a worker of this one: its answer (or why there is none) goes back. */
  private serve(call: RpcCall, origin: string): void {
    this.workers.call(call.method, call.data, call.info ?? NO_INFO).then(
      (data) => this.node.sendControl({ rpcReply: { requestId: call.requestId, to: origin, data, error: undefined } }),
      (err: unknown) =>
        this.node.sendControl({ rpcReply: { requestId: call.requestId, to: origin, data: Buffer.alloc(0), error: toHubError(err).toWire() } }),
    );
  }

  private settle(requestId: string, how: (w: { resolve(b: Buffer): void; reject(e: HubError): void }) => void): void {
    const w = this.waiting.get(requestId);
    if (!w) return;
    this.waiting.delete(requestId);
    this.clock.clear(w.timer);
    how(w);
  }

  close(): void {
    for (const id of [...this.waiting.keys()]) this.settle(id, (w) => w.reject(unavailable("rpc: the node is shutting down")));
    this.workers.close();
  }
}

const unavailable = (msg: string) => new HubError(ErrorCode.ERROR_CODE_NOT_AVAILABLE, msg, true);
