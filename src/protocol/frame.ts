import type { Reply } from "../gen/realtime/v1/client.js";
import type { Publication } from "../gen/realtime/v1/types.js";
import { encodeReply } from "./codec.js";

/**
 * One server message, encoded at most once per wire form and shared by every subscriber:
 * a publication to 10,000 clients is serialised once, not 10,000 times.
 */
export class Frame {
  private jsonBytes: Buffer | undefined;
  private sseBytes: Buffer | undefined;

  constructor(
    readonly reply: Reply,
    /** SSE event id (`<channel>:<epoch>:<offset>`) when the frame is a recoverable publication. */
    readonly eventId = "",
    /** Stream position of a recoverable publication (offset 0 otherwise), parsed once for every subscriber. */
    readonly offset = 0,
    readonly epoch = "",
  ) {}

  /** The JSON text of the reply as UTF-8 bytes (WebSocket frame, long-poll line). */
  json(): Buffer {
    return (this.jsonBytes ??= Buffer.from(encodeReply(this.reply), "utf8"));
  }

  /** The same JSON as one SSE event. */
  sse(): Buffer {
    if (!this.sseBytes) {
      const head = this.eventId ? `id: ${this.eventId}\ndata: ` : "data: ";
      this.sseBytes = Buffer.concat([Buffer.from(head), this.json(), Buffer.from("\n\n")]);
    }
    return this.sseBytes;
  }
}

/** The push frame of a publication; its SSE id lets a client resume with Last-Event-ID. */
export function publicationFrame(channel: string, pub: Publication): Frame {
  const eventId = pub.offset !== "0" ? `${channel}:${pub.epoch}:${pub.offset}` : "";
  return new Frame({ id: 0, error: undefined, push: { channel, pub } }, eventId, Number(pub.offset), pub.epoch);
}

/** Parses a `<channel>:<epoch>:<offset>` event id (the channel may itself hold ':'). */
export function parseEventId(id: string): { channel: string; epoch: string; offset: string } | null {
  const m = /^(.+):([^:]*):(\d+)$/.exec(id);
  return m ? { channel: m[1]!, epoch: m[2]!, offset: m[3]! } : null;
}
