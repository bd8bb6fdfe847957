/**
 * The part of the history and presence contracts that erases one user's data before it
 * expires (HubService.EraseUser, the GDPR path). Every store has it: a store that could not
 * erase would keep what the hub promised to remove.
 *
 * An implementer guarantees: once eraseUser(user) resolves, no read returns an entry of `user`
 * written before the call, in any channel; what it removed is counted per channel; erasing
 * again removes what is left (nothing, if nothing was added). History keeps its offsets: the
 * publications after a removed one keep theirs, and a reader is told which offsets were
 * removed, so it does not take them for a gap.
 */
export interface ErasableStore {
  /** The implementation ("memory", "redis"), as EraseUser reports it. */
  readonly kind: string;
  /**
   * Whether every node of the cluster reads this same store (Redis): then the node asked erases
   * it once for the whole cluster. Otherwise (memory) each node erases its own.
   */
  readonly shared: boolean;
  /** Removes `user`'s entries from every channel; returns how many per channel (channels without any left out). */
  eraseUser(user: string): Promise<Map<string, number>>;
}
