/**
 * The client-side shapes of the JSON protocol (proto3 JSON mapping of
 * proto/realtime/v1/client.proto and types.proto), written by hand so the browser loads
 * nothing generated. On the wire, fields equal to their default are omitted and 64-bit
 * integers are strings; the results the client hands to applications have every field set.
 */

/** Who published, joined or left: one connection of one user. */
export interface ClientInfo {
  /** Application user id; "" for anonymous connections. */
  user: string;
  /** Connection (session) id, assigned by the hub. */
  client: string;
  /** JSON set by the connection token (`info` claim) or the connect proxy. */
  connInfo?: unknown;
  /** JSON set by the subscription token or the subscribe proxy. */
  chanInfo?: unknown;
}

/** One message of a channel. */
export interface Publication<T = unknown> {
  /** The payload; absent when it is not JSON (then `b64data` holds it). */
  data: T;
  /** Binary payload, base64, when a backend published bytes that are not JSON. */
  b64data?: string;
  /** Position in the channel's stream (uint64 as a string); "0" when the channel keeps no history. */
  offset: string;
  /** Life of the channel's stream: offsets compare only within one epoch. */
  epoch: string;
  tags: Record<string, string>;
  /** The publisher, when a client published it. */
  info?: ClientInfo;
  /** When the hub accepted it, ms since the Unix epoch (0 when unknown). */
  time: number;
}

/** A place in a channel's stream. */
export interface StreamPosition {
  offset: string;
  epoch: string;
}

/** The hub's answer to connect. */
export interface ConnectResult {
  client: string;
  version: string;
  /** Seconds between server pings; 0 when the hub does not ping. */
  ping: number;
  /** Seconds until the connection token expires; 0 when it does not. */
  ttl: number;
  data?: unknown;
  node: string;
}

export interface SubscribeResult {
  recoverable: boolean;
  epoch: string;
  offset: string;
  recovered: boolean;
  wasRecovering: boolean;
  publications: Publication[];
  /** Seconds until the subscription expires (its token's `exp`); 0: never. */
  ttl: number;
}

export interface PublishResult {
  offset: string;
  epoch: string;
}

export interface PresenceStats {
  numClients: number;
  numUsers: number;
}

export interface HistoryResult<T = unknown> {
  publications: Publication<T>[];
  /** Top of the stream. */
  epoch: string;
  offset: string;
}

/** Why a connection ended, and whether the client tries again. */
export interface DisconnectInfo {
  code: number;
  reason: string;
  reconnect: boolean;
}

/** Error codes of the hub (types.proto ErrorCode). */
export const ErrorCode = {
  INTERNAL: 100,
  UNAUTHORIZED: 101,
  UNKNOWN_CHANNEL: 102,
  PERMISSION_DENIED: 103,
  METHOD_NOT_FOUND: 104,
  ALREADY_SUBSCRIBED: 105,
  LIMIT_EXCEEDED: 106,
  BAD_REQUEST: 107,
  NOT_AVAILABLE: 108,
  TOKEN_EXPIRED: 109,
  NOT_SUBSCRIBED: 110,
  TOO_MANY_REQUESTS: 111,
  UNRECOVERABLE_POSITION: 112,
  NOT_FOUND: 113,
} as const;

/**
 * Errors raised by the client itself (below 100, so they never collide with the hub's).
 */
export const ClientErrorCode = {
  /** No reply within the command timeout. */
  TIMEOUT: 1,
  /** The client is disconnected (call connect()). */
  NOT_CONNECTED: 2,
  /** The connection closed before the reply came; the command may or may not have run. */
  CONNECTION_CLOSED: 3,
  /** disconnect() was called. */
  CLIENT_CLOSED: 4,
  /** The SSE transport only receives: commands need the WebSocket. */
  RECEIVE_ONLY: 5,
  /** A frame from the hub was not valid JSON. */
  BAD_FRAME: 6,
  /** getToken() failed. */
  TOKEN: 7,
  /** The transport could not be opened (no WebSocket/EventSource, bad URL). */
  TRANSPORT: 8,
} as const;

/** Close codes (types.proto DisconnectCode). 3000-3499: reconnect; 3500-3999: do not. */
export const DisconnectCode = {
  NORMAL: 3000,
  SHUTDOWN: 3001,
  SERVER_ERROR: 3004,
  EXPIRED: 3005,
  SLOW: 3008,
  WRITE_ERROR: 3009,
  INSUFFICIENT_STATE: 3010,
  NO_PONG: 3012,
  FORCE_RECONNECT: 3013,
  NODE_FULL: 3014,
  BAD_REQUEST: 3501,
  MESSAGE_SIZE_LIMIT: 3502,
  INVALID_TOKEN: 3503,
  FORCE_NO_RECONNECT: 3504,
  CONNECTION_LIMIT: 3505,
} as const;

/** Whether a close code lets the client reconnect (3500-3999 say: not without a change). */
export function mayReconnect(code: number): boolean {
  return !(code >= 3500 && code < 4000);
}

/** The one error type of the client: a hub error (code >= 100) or a client one (below). */
export class RealtimeError extends Error {
  constructor(
    readonly code: number,
    message: string,
    /** True when retrying the same request later may succeed. */
    readonly temporary = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "RealtimeError";
  }
}

// ---- wire shapes (what JSON.parse gives; every field may be missing) ----

/** @internal */
export interface WireError {
  code?: number;
  message?: string;
  temporary?: boolean;
}

/** @internal */
export interface WirePush {
  channel?: string;
  pub?: Partial<Publication> & { time?: string | number };
  join?: { info?: Partial<ClientInfo> };
  leave?: { info?: Partial<ClientInfo> };
  unsubscribe?: { code?: number; reason?: string };
  disconnect?: { code?: number; reason?: string; reconnect?: boolean };
}

/** @internal A server frame: a reply (id, error or result), a push, or `{}` (ping). */
export interface WireReply {
  id?: number;
  error?: WireError;
  push?: WirePush;
  connect?: Partial<ConnectResult>;
  subscribe?: Partial<Omit<SubscribeResult, "publications">> & { publications?: WirePush["pub"][] };
  [result: string]: unknown;
}

/** @internal */
export function toError(e: WireError | undefined): RealtimeError {
  return new RealtimeError(e?.code ?? ErrorCode.INTERNAL, e?.message ?? "error", e?.temporary ?? false);
}

/** @internal */
export function clientInfo(i: Partial<ClientInfo> | undefined): ClientInfo {
  return { ...i, user: i?.user ?? "", client: i?.client ?? "" };
}

/** @internal Fills in what proto3 JSON leaves out. */
export function publication<T>(p: WirePush["pub"]): Publication<T> {
  const pub: Publication<T> = {
    data: p?.data as T,
    offset: p?.offset ?? "0",
    epoch: p?.epoch ?? "",
    tags: p?.tags ?? {},
    time: Number(p?.time ?? 0),
  };
  if (p?.b64data !== undefined) pub.b64data = p.b64data;
  if (p?.info) pub.info = clientInfo(p.info);
  return pub;
}

/** @internal */
export function subscribeResult(r: WireReply["subscribe"]): SubscribeResult {
  return {
    recoverable: r?.recoverable ?? false,
    epoch: r?.epoch ?? "",
    offset: r?.offset ?? "0",
    recovered: r?.recovered ?? false,
    wasRecovering: r?.wasRecovering ?? false,
    publications: (r?.publications ?? []).map((p) => publication(p)),
    ttl: r?.ttl ?? 0,
  };
}

/** @internal Compares two uint64 decimal strings: a > b. */
export function offsetAfter(a: string, b: string): boolean {
  return a.length !== b.length ? a.length > b.length : a > b;
}
