import type { Disconnect } from "../../src/errors.js";
import type { Frame } from "../../src/protocol/frame.js";
import type { Transport } from "../../src/transport.js";

/** Records what a session writes, as parsed JSON, so tests need no socket. */
export class FakeTransport implements Transport {
  readonly name = "websocket" as const;
  readonly frames: any[] = [];
  closedWith: Disconnect | null = null;
  /** Pretend this many bytes are stuck in the socket (slow-client tests). */
  stuckBytes = 0;
  /** Make close() throw after recording the disconnect (a broken socket library). */
  closeThrows = false;

  constructor(readonly bidirectional = true) {}

  write(frame: Frame): void {
    this.frames.push(JSON.parse(frame.json().toString("utf8")));
  }

  queuedBytes(): number {
    return this.stuckBytes;
  }

  close(d: Disconnect): void {
    this.closedWith ??= d;
    if (this.closeThrows) throw new Error("close failed");
  }

  /** The reply with this id (throws when there is none yet). */
  reply(id: number): any {
    const r = this.frames.find((f) => f.id === id);
    if (!r) throw new Error(`no reply ${id} in ${JSON.stringify(this.frames)}`);
    return r;
  }

  pushes(kind?: string): any[] {
    return this.frames.filter((f) => f.push && (!kind || f.push[kind])).map((f) => f.push);
  }
}
