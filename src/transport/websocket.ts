import { WebSocket, WebSocketServer } from "ws";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { Disconnect, disconnectBadRequest, disconnectNormal } from "../errors.js";
import type { Session } from "../session.js";
import { Frame } from "../protocol/frame.js";
import type { Transport } from "../transport.js";

const TEXT = { binary: false } as const;
const NEWLINE = Buffer.from("\n");

/** Transports with frames waiting for the end of this event-loop turn. */
let dirty: WebSocketTransport[] = [];
let flushScheduled = false;

function flushAll(): void {
  flushScheduled = false;
  const list = dirty;
  dirty = [];
  for (const t of list) t.flush();
}

/**
 * A WebSocket connection as the session sees it. Frames written during one event-loop turn
 * go out as one WebSocket message (JSON lines, as the protocol allows): at high publication
 * rates that is one syscall per connection per turn instead of one per message, on the hub
 * and on the client. A single frame is sent as is: the same Buffer for every subscriber.
 */
export class WebSocketTransport implements Transport {
  readonly name = "websocket";
  readonly bidirectional = true;
  private closed = false;
  private pending: Buffer[] | null = null;
  private pendingBytes = 0;

  constructor(private readonly ws: WebSocket) {}

  write(frame: Frame): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const bytes = frame.json();
    if (this.pending) {
      this.pending.push(NEWLINE, bytes);
      this.pendingBytes += bytes.length + 1;
      return;
    }
    this.pending = [bytes];
    this.pendingBytes = bytes.length;
    dirty.push(this);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushAll);
    }
  }

  /** Sends what this turn queued; called once per turn, and before closing. */
  flush(): void {
    const list = this.pending;
    if (!list) return;
    this.pending = null;
    const size = this.pendingBytes;
    this.pendingBytes = 0;
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(list.length === 1 ? list[0]! : Buffer.concat(list, size), TEXT);
  }

  queuedBytes(): number {
    return this.ws.bufferedAmount + this.pendingBytes;
  }

  close(d: Disconnect): void {
    if (this.closed) return;
    this.closed = true;
    this.flush();
    if (this.ws.readyState !== WebSocket.OPEN) return this.ws.terminate();
    const push = new Frame({
      id: 0,
      error: undefined,
      push: { channel: "", disconnect: { code: d.code, reason: d.reason, reconnect: d.reconnect } },
    });
    let cut = false;
    // terminate() drops the socket's write buffer: cut only once the push (and all before it) left.
    this.ws.send(push.json(), TEXT, () => cut && this.ws.terminate());
    try {
      this.ws.close(d.code, closeReason(d.reason));
    } catch {
      // ws refuses codes a close frame may not carry (a backend's Disconnect can name any
      // number): no close frame then, the socket is cut once the push is out.
      cut = true;
    }
    // A peer that never completes the closing handshake (or never reads) must not hold the socket.
    setTimeout(() => this.ws.terminate(), 5000).unref();
  }
}

/** Longest reason a close frame holds (RFC 6455: 125 payload bytes, 2 of them the code). */
const MAX_CLOSE_REASON_BYTES = 123;

/**
 * The reason cut to what a close frame holds, in UTF-8 bytes (ws throws past that), without
 * splitting a character. The disconnect push before it carries the whole reason.
 */
function closeReason(reason: string): string {
  const bytes = Buffer.from(reason, "utf8");
  if (bytes.length <= MAX_CLOSE_REASON_BYTES) return reason;
  let end = MAX_CLOSE_REASON_BYTES;
  // bytes[end] is the first byte left out: while it continues a character, leave that one out too.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString("utf8");
}

/**
 * Accepts WebSocket upgrades at /connection/websocket. Oversize frames are refused by ws
 * itself (close code 1009) before they reach the session. `newSession` may refuse the
 * connection with a Disconnect instead (connection caps): the upgrade is then completed only
 * to tell the client why, with a disconnect push and that close code.
 */
export class WebSocketEdge {
  private readonly wss: WebSocketServer;

  constructor(
    maxMessageBytes: number,
    private readonly newSession: (t: Transport, req: IncomingMessage) => Session | Disconnect,
  ) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes, perMessageDeflate: false });
    this.wss.on("connection", (ws: WebSocket, req: IncomingMessage) => this.accept(ws, req));
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit("connection", ws, req));
  }

  private readonly sessions = new Set<Session>();

  private accept(ws: WebSocket, req: IncomingMessage): void {
    const transport = new WebSocketTransport(ws);
    const session = this.newSession(transport, req);
    // Errors (oversize frame, invalid UTF-8, reset) are followed by 'close'; nothing to rethrow.
    ws.on("error", (err: Error & { code?: string }) => {
      if (err.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH" && !(session instanceof Disconnect)) session.node.counters.limitRefusals.message_size++;
    });
    if (session instanceof Disconnect) return transport.close(session);
    this.sessions.add(session);
    ws.on("message", (data, isBinary) => {
      if (isBinary) return session.close(disconnectBadRequest("binary frames need the binary subprotocol"));
      session.handleFrame((data as Buffer).toString()); // text frames: ws hands over one Buffer
    });
    ws.on("close", () => {
      this.sessions.delete(session);
      session.close(disconnectNormal);
    });
  }

  /** Tells every connection, connected or not yet, to reconnect elsewhere. */
  shutdown(d: Disconnect): void {
    for (const s of this.sessions) s.close(d);
    this.wss.close();
  }

  /** Cuts whatever did not finish its closing handshake in time. */
  terminate(): void {
    for (const ws of this.wss.clients) ws.terminate();
  }
}
