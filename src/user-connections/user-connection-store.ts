/**
 * Which connections each user holds across the cluster, for `maxConnectionsPerUser`.
 *
 * An implementer guarantees: tryAdd counts and adds in one step (two nodes taking a user's
 * last slot at once: one of them gets it); an entry expires `ttlSeconds` after it was last
 * added or touched, so the entries of a node that died age out by themselves.
 */
export interface UserConnectionStore {
  /**
   * Adds `client` to the live connections of `user` unless they already number `max`: whether
   * it was added. A client already there is refreshed and counts as added.
   */
  tryAdd(user: string, client: string, max: number, ttlSeconds: number): Promise<boolean>;
  /** Keeps these connections of `user` alive (adds them again if the store lost them). */
  touch(user: string, clients: string[], ttlSeconds: number): Promise<void>;
  remove(user: string, client: string): Promise<void>;
}
