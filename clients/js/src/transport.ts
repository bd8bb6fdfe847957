/**
 * The narrow contract between the client and one connection to the hub. The client never
 * touches a socket: it opens a transport with these handlers, writes command lines to it, and
 * closes it. Implementations sit beside this file:
 * websocket-transport.ts, sse-transport.ts and longpoll-transport.ts.
 */

/** The transports, in the order "auto" tries them; each carries commands (SSE and long-poll as POSTs). */
export type TransportName = "websocket" | "sse" | "longpoll";

/** How a connection ended, as far as the transport can tell. */
export interface TransportClose {
  /** The WebSocket close code (1006 when there was no close frame); 0 when the transport has none (SSE, long-poll). */
  code: number;
  reason: string;
}

/**
 * What a transport reports about its connection, in the order it happens. Nothing is
 * reported after close(). A stream (SSE, long-poll) reports no open: the hub's connect reply
 * arrives as its first message.
 */
export interface TransportHandlers {
  /** The connection is up: commands may be written. */
  onOpen(): void;
  /** One WebSocket frame, SSE event or long-poll answer: JSON lines (maybe none), to handle in the order they arrive. */
  onMessage(text: string): void;
  /** The connection ended by itself. */
  onClose(close: TransportClose): void;
}

/** One connection to the hub, for one connection attempt: never reopened. */
interface Transport {
  readonly name: TransportName;
  /** Ends the connection without reporting it. */
  close(): void;
}

/** A transport that carries commands: all of them (the WebSocket in its frames; SSE and long-polling as POSTs to `/connection/emulation`). */
export interface CommandTransport extends Transport {
  /** Writes one command line. A closed connection drops it: its command then fails with the connection. */
  send(line: string): void;
}
