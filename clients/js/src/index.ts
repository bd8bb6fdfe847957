/**
 * Browser client of realtime-hub: the JSON client protocol (docs/protocol.md) over WebSocket,
 * with reconnects (exponential backoff + jitter), resubscription with recovery of missed
 * publications, and receive-only SSE and long-polling transports ("auto" falls back
 * WebSocket -> SSE -> long-poll). No dependencies; ES modules.
 *
 *   import { RealtimeClient } from "@realtime-hub/client"; // or "https://hub/client.js"
 *   const client = new RealtimeClient("wss://host/connection/websocket", { getToken });
 *   const sub = client.subscribe("chat:lobby", { onPublication: (pub) => console.log(pub.data) });
 *   client.connect();
 *   await sub.publish({ text: "hi" });
 */
export { RealtimeClient, CLIENT_NAME, CLIENT_VERSION } from "./client.js";
export type { ClientEvents, ClientOptions, ClientState, ConnectedContext } from "./client.js";
export type { TransportName } from "./transport.js";
export { Subscription } from "./subscription.js";
export type {
  HistoryOptions,
  SubscribeOptions,
  SubscribedContext,
  SubscriptionHandlers,
  SubscriptionState,
} from "./subscription.js";
export { ClientErrorCode, DisconnectCode, ErrorCode, RealtimeError, mayReconnect } from "./types.js";
export type {
  ClientInfo,
  ConnectResult,
  DisconnectInfo,
  HistoryResult,
  PresenceStats,
  Publication,
  PublishResult,
  StreamPosition,
  SubscribeResult,
} from "./types.js";
export { Emitter } from "./emitter.js";
