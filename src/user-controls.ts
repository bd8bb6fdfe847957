import { Disconnect } from "./errors.js";
import type { Control } from "./gen/realtime/v1/broker.js";
import type { DisconnectRequest, UnsubscribeRequest } from "./gen/realtime/v1/hub.js";
import { DisconnectCode } from "./gen/realtime/v1/types.js";
import type { ClientSession, SessionRegistry } from "./sessions.js";

/**
 * The server API's Disconnect and Unsubscribe of a user's (or one client's) connections, which
 * may be on any node: the node asked sends a control envelope to the others and applies it
 * itself, since the broker's echo of its own envelope is dropped. Every node acts on the
 * sessions it holds.
 */
export class UserControls {
  constructor(
    private readonly sessions: SessionRegistry,
    /** Publishes a control envelope to the other nodes; not awaited, a failure is the node's to log. */
    private readonly sendControl: (control: Control) => void,
  ) {}

  /** Disconnects a user's connections on every node. */
  disconnect(req: DisconnectRequest): void {
    this.send({ disconnect: req });
  }

  /** Unsubscribes a user's connections from a channel on every node. */
  unsubscribe(req: UnsubscribeRequest): void {
    this.send({ unsubscribe: req });
  }

  /** Closes the user's connections on this node only (EraseUser asks every node itself); returns how many. */
  disconnectHere(user: string, reason: string): number {
    const sessions = this.sessions.ofUser(user);
    const d = new Disconnect(DisconnectCode.DISCONNECT_CODE_FORCE_NO_RECONNECT, reason);
    for (const s of sessions) s.disconnect(d);
    return sessions.length;
  }

  private send(control: Control): void {
    this.sendControl(control);
    this.apply(control);
  }

  /** A Disconnect or Unsubscribe, from this node or another: acts on the local sessions it names (other controls: nothing). */
  apply(control: Control): void {
    const target = control.disconnect ?? control.unsubscribe;
    if (!target) return;
    // A client id is unique: it alone names the connection (anonymous ones have no user).
    const found = target.client ? [this.sessions.get(target.client)] : this.sessions.ofUser(target.user);
    const sessions = found.filter((s): s is ClientSession => s !== undefined && (!target.user || s.user === target.user));
    if (control.disconnect) {
      const code = control.disconnect.code || DisconnectCode.DISCONNECT_CODE_FORCE_NO_RECONNECT;
      const d = new Disconnect(code, control.disconnect.reason || "disconnected by the server");
      for (const s of sessions) s.disconnect(d);
    } else if (control.unsubscribe) {
      for (const s of sessions) s.serverUnsubscribe(control.unsubscribe.channel);
    }
  }
}
