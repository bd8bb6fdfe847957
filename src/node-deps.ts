import type { Logger } from "pino";
import type { Broker, HistoryPublisher } from "./broker/broker.js";
import type { Clock } from "./clock.js";
import type { Config } from "./config.js";
import type { HistoryStore } from "./history/history-store.js";
import type { IdempotencyStore } from "./idempotency/idempotency-store.js";
import type { PresenceStore } from "./presence/presence-store.js";
import type { UserConnectionStore } from "./user-connections/user-connection-store.js";

/** What one node is built from (app.ts wires them from the config; tests pass memory stores). */
export interface NodeDeps {
  config: Config;
  broker: Broker;
  /** Set when history lives where the broker publishes: append and publish in one step. */
  historyPublisher?: HistoryPublisher | undefined;
  presence: PresenceStore;
  history: HistoryStore;
  /**
   * Whether every node reads the same history, so offsets mean the same everywhere: then
   * delivery is put in offset order and gaps are filled from history. Default true (one node).
   */
  sharedHistory?: boolean | undefined;
  /** Where idempotency keys are remembered; in this process when absent (one node). */
  idempotency?: IdempotencyStore | undefined;
  /** Where connections per user are counted for the whole cluster; this node's own only when absent. */
  userConnections?: UserConnectionStore | undefined;
  log: Logger;
  /** Time and timers; the system's when absent (tests move time themselves). */
  clock?: Clock | undefined;
}
