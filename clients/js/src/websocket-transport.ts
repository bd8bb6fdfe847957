import type { CommandTransport, TransportHandlers } from "./transport.js";

/**
 * Largest WebSocket frame the client batches commands into (the hub's default limit is 64 KiB),
 * counted as `line.length` counts: UTF-16 code units, not UTF-8 bytes.
 */
const MAX_BATCH_BYTES = 32 * 1024;
const OPEN = 1;

/**
 * One WebSocket connection to `/connection/websocket`: text frames of JSON lines both ways.
 * Command lines written in one event-loop turn share one frame.
 */
export class WebSocketTransport implements CommandTransport {
  readonly name = "websocket";
  private readonly ws: WebSocket;
  private batch: string[] = [];
  private batchBytes = 0;
  private batchScheduled = false;

  /** Throws when the socket cannot even be created (no WebSocket in this environment, a bad URL). */
  constructor(url: string, Impl: typeof WebSocket | undefined, handlers: TransportHandlers) {
    if (!Impl) throw new Error("no WebSocket in this environment");
    const ws = new Impl(url);
    ws.onopen = () => handlers.onOpen();
    ws.onmessage = (ev: MessageEvent) => handlers.onMessage(typeof ev.data === "string" ? ev.data : String(ev.data));
    ws.onerror = () => undefined; // a close event follows, with the code
    ws.onclose = (ev: CloseEvent) => handlers.onClose({ code: ev.code, reason: ev.reason });
    this.ws = ws;
  }

  /** Queues the line for this turn's frame; a frame that would outgrow the batch limit goes first. */
  send(line: string): void {
    if (this.batchBytes + line.length > MAX_BATCH_BYTES) this.flush();
    this.batch.push(line);
    this.batchBytes += line.length + 1;
    if (!this.batchScheduled) {
      this.batchScheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  close(): void {
    const ws = this.ws;
    ws.onopen = ws.onmessage = ws.onclose = null;
    try {
      ws.close(1000);
    } catch {
      // already closing
    }
    this.batch = [];
    this.batchBytes = 0;
  }

  private flush(): void {
    this.batchScheduled = false;
    if (this.batch.length === 0) return;
    const text = this.batch.join("\n");
    this.batch = [];
    this.batchBytes = 0;
    // A closed socket drops the frame; its commands fail with the connection.
    if (this.ws.readyState === OPEN) this.ws.send(text);
  }
}
