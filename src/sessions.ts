import type { Disconnect } from "./errors.js";

/** What the node may do to a client connection on this node: the server API and the cluster act through it. */
export interface ClientSession {
  /** The client id, unique in the cluster. */
  readonly id: string;
  /** The user ('' when anonymous). */
  readonly user: string;
  /** Closes the connection, telling the client why. */
  disconnect(d: Disconnect): void;
  /** Removes the client from `channel`, telling it so; nothing when it is not subscribed. */
  serverUnsubscribe(channel: string): void;
  /** Periodic: ping, pong timeout, token expiry. */
  tick(now: number): void;
}

/** The connected client sessions of this node, by client id and by user. */
export class SessionRegistry {
  private readonly byId = new Map<string, ClientSession>();
  private readonly byUser = new Map<string, Set<ClientSession>>();

  add(s: ClientSession): void {
    this.byId.set(s.id, s);
    let of = this.byUser.get(s.user);
    if (!of) this.byUser.set(s.user, (of = new Set()));
    of.add(s);
  }

  remove(s: ClientSession): void {
    if (this.byId.get(s.id) !== s) return;
    this.byId.delete(s.id);
    const of = this.byUser.get(s.user);
    if (of) {
      of.delete(s);
      if (of.size === 0) this.byUser.delete(s.user);
    }
  }

  get(id: string): ClientSession | undefined {
    return this.byId.get(id);
  }

  ofUser(user: string): ClientSession[] {
    return [...(this.byUser.get(user) ?? [])];
  }

  all(): ClientSession[] {
    return [...this.byId.values()];
  }

  stats(): { clients: number; users: number } {
    return { clients: this.byId.size, users: this.byUser.size };
  }
}
