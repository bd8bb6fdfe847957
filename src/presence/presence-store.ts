import type { ErasableStore } from "../erasable-store.js";
import type { ClientInfo } from "../gen/realtime/v1/types.js";

export interface PresenceStats {
  numClients: number;
  numUsers: number;
}

/**
 * Who is subscribed to which channel, across the cluster.
 *
 * An implementer guarantees: an entry expires `ttlSeconds` after it was last added unless
 * added again (the node holding the connection refreshes it), so entries of a node that
 * died disappear by themselves; nothing is kept forever. eraseUser (ErasableStore) removes the
 * entries whose `user` is the user, in every channel.
 */
export interface PresenceStore extends ErasableStore {
  add(channel: string, info: ClientInfo, ttlSeconds: number): Promise<void>;
  remove(channel: string, clientId: string): Promise<void>;
  /** Live entries keyed by client id. */
  get(channel: string): Promise<Record<string, ClientInfo>>;
  stats(channel: string): Promise<PresenceStats>;
  close(): Promise<void>;
}
