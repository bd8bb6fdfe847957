import type { Disconnect } from "./errors.js";
import type { Frame } from "./protocol/frame.js";

/**
 * The narrow view a session has of its connection, whatever carries it.
 *
 * An implementer guarantees: write() never blocks and never throws (a dead socket just
 * drops frames); queuedBytes() tells how much is accepted but not yet handed to the kernel,
 * so the session can disconnect a client that does not keep up; close() sends the
 * disconnect to the client when the transport can, then closes it, and is idempotent.
 */
export interface Transport {
  readonly name: "websocket" | "sse" | "longpoll";
  /**
   * WebSocket carries commands in its own stream, and its client pings; SSE and long-polling
   * deliver, and take commands as separate POSTs (transport/emulation.ts), so no client ping.
   */
  readonly bidirectional: boolean;
  write(frame: Frame): void;
  queuedBytes(): number;
  close(d: Disconnect): void;
}

/**
 * What the request that opened a connection carried, as far as webhooks may see it: set by
 * the edge from the real HTTP request (never from anything inside the protocol), and only
 * the headers and cookies the config forwards (proxyHeaders, proxyCookies).
 */
export interface ConnectionRequest {
  readonly remoteAddr: string;
  /** The Origin header; "" when there was none (not a browser). */
  readonly origin: string;
  /** Forwarded headers by lower-case name. */
  readonly headers: Readonly<Record<string, string>>;
  /** Forwarded cookies by name. */
  readonly cookies: Readonly<Record<string, string>>;
}

export const NO_REQUEST: ConnectionRequest = { remoteAddr: "", origin: "", headers: {}, cookies: {} };
