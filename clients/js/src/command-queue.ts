import type { WireReply } from "./types.js";
import { ClientErrorCode, RealtimeError, toError } from "./types.js";

/** The command's result (the reply's field named like the method), or the error that ended it. */
export type CommandDone = (err: RealtimeError | null, result: Record<string, unknown>) => void;

interface Pending {
  /** Called synchronously, in frame order: a push after a reply sees the reply's effects. */
  resolve: (reply: WireReply) => void;
  reject: (err: RealtimeError) => void;
  timer: ReturnType<typeof setTimeout>;
  /** Unsent commands wait in the outbox for the connection; sent ones fail when it drops. */
  sent: boolean;
}

/**
 * The commands of one client, across its connections: ids (never reused), the replies they
 * wait for, timeouts, and the outbox of commands made while (re)connecting. It writes lines
 * through `write` (the current connection) and knows nothing of connections otherwise.
 */
export class CommandQueue {
  private readonly pending = new Map<number, Pending>();
  private outbox: Array<{ id: number; line: string }> = [];
  private nextId = 1;

  constructor(
    /** Read at each command: `timeout` (ms, default 10000). */
    private readonly options: { readonly timeout?: number },
    private readonly write: (line: string) => void,
  ) {}

  /**
   * Registers a command and writes it now (or keeps it in the outbox for the connection);
   * `done` runs once, with the hub's error or the command's result, synchronously when the
   * reply arrives, or with a TIMEOUT error when none came within the timeout.
   */
  send(method: string, body: Record<string, unknown>, sendNow: boolean, done: CommandDone): void {
    const id = this.nextId++;
    const line = JSON.stringify({ id, [method]: body });
    const timeout = this.options.timeout ?? 10_000;
    const timer = setTimeout(() => {
      this.pending.delete(id);
      this.outbox = this.outbox.filter((c) => c.id !== id);
      done(new RealtimeError(ClientErrorCode.TIMEOUT, `${method}: no reply within ${timeout} ms`, true), {});
    }, timeout);
    this.pending.set(id, {
      resolve: (reply) => done(null, (reply[method] as Record<string, unknown> | undefined) ?? {}),
      reject: (err) => done(err, {}),
      timer,
      sent: sendNow,
    });
    if (sendNow) this.write(line);
    else this.outbox.push({ id, line });
  }

  /** send() as a promise. */
  exchange(method: string, body: Record<string, unknown>, sendNow: boolean): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => this.send(method, body, sendNow, (err, r) => (err ? reject(err) : resolve(r))));
  }

  /** A reply (a line with an `id`) from the hub: settles its command, unless that timed out already. */
  settle(id: number, reply: WireReply): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (reply.error) p.reject(toError(reply.error));
    else p.resolve(reply);
  }

  /** Writes what waited in the outbox, in the order it was made. */
  flushOutbox(): void {
    const waiting = this.outbox;
    this.outbox = [];
    for (const { id, line } of waiting) {
      const p = this.pending.get(id);
      if (!p) continue;
      p.sent = true;
      this.write(line);
    }
  }

  /** The connection dropped: every command written on it fails (it may or may not have run). */
  failSent(code: number, message: string): void {
    for (const [id, p] of this.pending) {
      if (!p.sent) continue;
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(new RealtimeError(code, message, code === ClientErrorCode.CONNECTION_CLOSED));
    }
  }

  /** Fails every command still waiting for a connection (disconnected, or the transport cannot carry it). */
  failOutbox(err: RealtimeError): void {
    for (const { id } of this.outbox) {
      const p = this.pending.get(id);
      if (!p) continue;
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(err);
    }
    this.outbox = [];
  }
}
