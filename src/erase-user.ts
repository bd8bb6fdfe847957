import { randomUUID } from "node:crypto";
import type { Clock, Timer } from "./clock.js";
import type { ErasableStore } from "./erasable-store.js";
import { errBadRequest, toHubError } from "./errors.js";
import type { Control, EraseUserAnswer } from "./gen/realtime/v1/broker.js";
import type { EraseUserNodeResult, EraseUserRequest, EraseUserResponse, EraseUserStoreResult } from "./gen/realtime/v1/hub.js";

/** How long the node asked waits for the other nodes' answers to an EraseUser call. */
export const ERASE_USER_TIMEOUT_MS = 3000;
/**
 * Most channels one store result lists (its `removed` counts them all). Channel names are at
 * most 255 ASCII characters, so an answer's two results stay under about 520 KiB: NATS refuses
 * messages over 1 MiB by default.
 */
const MAX_ERASED_CHANNELS_LISTED = 1000;

/** What erasure needs of its node. */
export interface ErasureNode {
  readonly id: string;
  /** The node's stores, by what they hold. */
  readonly stores: ReadonlyArray<{ kind: "history" | "presence"; store: ErasableStore }>;
  /** Closes the user's connections on this node (no reconnect); returns how many. */
  disconnect(user: string): number;
  /** The other nodes heard recently, by id. */
  peers(): string[];
  /** Publishes a control envelope to the other nodes; `onFailure` when the broker refuses it. */
  sendControl(control: Control, onFailure?: () => void): void;
}

/** What one node did: its connections closed and the stores in its memory erased. */
interface NodePart {
  node: EraseUserNodeResult;
  stores: EraseUserStoreResult[];
}

interface PendingErase {
  waiting: Set<string>;
  answers: Map<string, NodePart>;
  timer: Timer;
  resolve: () => void;
}

/**
 * HubService.EraseUser, the GDPR path. The node asked publishes an EraseUserQuery on the control
 * channel; every node (the one asked too) closes the user's connections when asked to, then
 * erases the stores in its own memory, and the others answer with what they did. The node asked
 * waits for the nodes heard recently (at most ERASE_USER_TIMEOUT_MS, naming those that did not
 * answer), then erases the shared stores (Redis) once for the cluster: last, so the user's
 * connections are closed by then and cannot publish or refresh presence behind the erasure.
 */
export class UserErasure {
  private readonly pending = new Map<string, PendingErase>();
  private closed = false;

  constructor(
    private readonly node: ErasureNode,
    private readonly clock: Clock,
    private readonly timeoutMs = ERASE_USER_TIMEOUT_MS,
  ) {}

  async erase(req: EraseUserRequest): Promise<EraseUserResponse> {
    if (!req.user) throw errBadRequest("user is required");
    const peers = this.closed ? [] : this.node.peers();
    let collected: Promise<Map<string, NodePart>> | undefined;
    let requestId = "";
    if (peers.length > 0) {
      requestId = randomUUID();
      collected = this.open(requestId, peers);
      // A query the broker refuses gets no answers: stop waiting at once, the peers are missing.
      this.node.sendControl({ eraseUserQuery: { requestId, request: req } }, () => this.finish(requestId));
    }
    const own = await this.eraseHere(req);
    const answers = collected ? await collected : new Map<string, NodePart>();
    const missing = peers.filter((p) => !answers.has(p)).sort();
    // Failures of a shared store fail the call: nothing else would say the user is still there.
    const shared: EraseUserStoreResult[] = [];
    for (const { kind, store } of this.node.stores)
      if (store.shared) shared.push(storeResult(kind, store, "", await store.eraseUser(req.user)));
    const parts = [own, ...[...answers.values()].sort((a, b) => a.node.node.localeCompare(b.node.node))];
    const stores = [...parts.flatMap((p) => p.stores), ...shared];
    const sum = (kind: string) => stores.reduce((n, s) => (s.kind === kind ? n + s.removed : n), 0);
    return {
      publicationsRemoved: sum("history"),
      presenceRemoved: sum("presence"),
      disconnected: parts.reduce((n, p) => n + p.node.disconnected, 0),
      stores,
      nodes: parts.map((p) => p.node),
      missingNodes: missing,
    };
  }

  /** EraseUser controls; false when `control` is not one. */
  onControl(control: Control, origin: string): boolean {
    const q = control.eraseUserQuery;
    if (q) {
      if (!this.closed && q.request?.user) void this.answer(origin, q.requestId, q.request);
      return true;
    }
    if (control.eraseUserAnswer) {
      // Every node hears every answer; only the asking node has the query.
      if (control.eraseUserAnswer.to === this.node.id) this.collect(origin, control.eraseUserAnswer);
      return true;
    }
    return false;
  }

  /** Ends every call waiting for answers (the node shuts down); later queries are not answered. */
  close(): void {
    this.closed = true;
    for (const id of [...this.pending.keys()]) this.finish(id);
  }

  private async answer(to: string, requestId: string, req: EraseUserRequest): Promise<void> {
    const part = await this.eraseHere(req);
    this.node.sendControl({ eraseUserAnswer: { requestId, to, node: part.node, stores: part.stores } });
  }

  /** This node's share: close the user's connections (unless told not to), then erase the stores in this node's memory. */
  private async eraseHere(req: EraseUserRequest): Promise<NodePart> {
    const disconnected = req.disconnect === false ? 0 : this.node.disconnect(req.user);
    const stores: EraseUserStoreResult[] = [];
    try {
      for (const { kind, store } of this.node.stores)
        if (!store.shared) stores.push(storeResult(kind, store, this.node.id, await store.eraseUser(req.user)));
      return { node: { node: this.node.id, disconnected, error: undefined }, stores };
    } catch (err) {
      return { node: { node: this.node.id, disconnected, error: toHubError(err).toWire() }, stores };
    }
  }

  /** Starts waiting for the answers of `peers`; resolves with them when all came, at the deadline, or at finish(). */
  private open(requestId: string, peers: string[]): Promise<Map<string, NodePart>> {
    return new Promise((resolve) => {
      const answers = new Map<string, NodePart>();
      const timer = this.clock.setTimeout(() => this.finish(requestId), this.timeoutMs);
      this.pending.set(requestId, { waiting: new Set(peers), answers, timer, resolve: () => resolve(answers) });
    });
  }

  private collect(from: string, a: EraseUserAnswer): void {
    const p = this.pending.get(a.requestId);
    if (!p || p.answers.has(from) || !a.node) return;
    p.answers.set(from, { node: { ...a.node, node: from }, stores: a.stores.map((s) => ({ ...s, node: from })) });
    p.waiting.delete(from);
    if (p.waiting.size === 0) this.finish(a.requestId);
  }

  private finish(requestId: string): void {
    const p = this.pending.get(requestId);
    if (!p) return;
    this.pending.delete(requestId);
    this.clock.clear(p.timer);
    p.resolve();
  }
}

/** One store's counts as EraseUser reports them: every channel counted, the first ones by name listed. */
function storeResult(kind: string, store: ErasableStore, node: string, removed: Map<string, number>): EraseUserStoreResult {
  const names = [...removed.keys()].sort();
  const channels: Record<string, number> = {};
  let total = 0;
  for (const n of removed.values()) total += n;
  for (const name of names.slice(0, MAX_ERASED_CHANNELS_LISTED)) channels[name] = removed.get(name)!;
  return { kind, store: store.kind, node, removed: total, channels, channelsTruncated: names.length > MAX_ERASED_CHANNELS_LISTED };
}
