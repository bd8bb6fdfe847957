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
  /** WebSocket carries commands from the client; SSE and long-polling only deliver. */
  readonly bidirectional: boolean;
  write(frame: Frame): void;
  queuedBytes(): number;
  close(d: Disconnect): void;
}
