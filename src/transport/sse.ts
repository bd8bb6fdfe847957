import type { ServerResponse } from "node:http";
import type { Disconnect } from "../errors.js";
import { Frame } from "../protocol/frame.js";
import type { Transport } from "../transport.js";

/** An EventSource connection: every frame is one `data:` event; publications carry an `id:`. */
export class SseTransport implements Transport {
  readonly name = "sse";
  readonly bidirectional = false;
  private closed = false;
  private opened = false;

  constructor(private readonly res: ServerResponse) {}

  /** Starts the event stream; until then nothing is written (errors can still be plain HTTP). */
  open(): void {
    this.opened = true;
    this.res.writeHead(200, {
      "Content-Type": "text/event-stream",
      "Cache-Control": "no-cache, no-transform",
      Connection: "keep-alive",
      "X-Accel-Buffering": "no",
    });
    this.res.socket?.setNoDelay(true);
  }

  /** A named event (not a protocol frame: EventSource's `onmessage` does not see it). */
  event(name: string, data: unknown): void {
    if (this.opened && !this.res.writableEnded && !this.res.destroyed) this.res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  write(frame: Frame): void {
    if (this.opened && !this.res.writableEnded && !this.res.destroyed) this.res.write(frame.sse());
  }

  queuedBytes(): number {
    return this.res.writableLength;
  }

  close(d: Disconnect): void {
    if (this.closed) return;
    this.closed = true;
    if (this.opened && !this.res.writableEnded && !this.res.destroyed) {
      const push = { channel: "", disconnect: { code: d.code, reason: d.reason, reconnect: d.reconnect } };
      this.res.end(new Frame({ id: 0, error: undefined, push }).sse());
    }
  }
}
