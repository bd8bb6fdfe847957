import type { StreamPosition } from "./types.js";
import type { Transport, TransportHandlers } from "./transport.js";

/** What the stream URL needs of a subscription. */
export interface SseChannel {
  readonly channel: string;
  /** Where to resume from (`since`), or null to start at the top. */
  readonly position: StreamPosition | null;
  /** The subscription token (private channels): at once, or a promise when it must be fetched. */
  token(): string | undefined | Promise<string>;
}

/** `ws(s)://host/connection/websocket` -> `http(s)://host/connection/sse`. */
export function sseUrlOf(wsUrl: string): string {
  return wsUrl.replace(/^ws(s?):/, "http$1:").replace(/\/connection\/websocket\/?(\?.*)?$/, "/connection/sse");
}

/**
 * The stream URL: SSE subscribes in the query, each channel with its position and token, in
 * the given order (the hub answers each channel's subscribe with its 1-based place as `id`),
 * then the connection token. Tokens are fetched one after the other; one that cannot be
 * fetched is reported to `tokenFailed` and left out (the hub then says why that is not enough).
 * Throws on a bad URL.
 */
export async function sseStreamUrl<C extends SseChannel>(
  endpoint: string,
  channels: readonly C[],
  token: string | undefined,
  tokenFailed: (channel: C, err: unknown) => void,
): Promise<string> {
  const url = new URL(endpoint, typeof location === "undefined" ? undefined : location.href);
  for (const ch of channels) {
    url.searchParams.append("channel", ch.channel);
    const pos = ch.position;
    if (pos) url.searchParams.append("since", `${ch.channel}:${pos.epoch}:${pos.offset}`);
    let subToken: string | undefined;
    try {
      subToken = await ch.token();
    } catch (err) {
      tokenFailed(ch, err);
    }
    if (subToken) url.searchParams.set(`token:${ch.channel}`, subToken);
  }
  if (token) url.searchParams.set("token", token);
  return url.toString();
}

/**
 * One receive-only event stream from `/connection/sse`: the connect reply, the subscribe
 * replies and the pushes arrive as events, one JSON line each; `{}` events are pings.
 */
export class SseTransport implements Transport {
  readonly name = "sse";
  private readonly es: EventSource;

  /** Throws when the stream cannot even be created (no EventSource in this environment, a bad URL). */
  constructor(url: string, Impl: typeof EventSource | undefined, handlers: Pick<TransportHandlers, "onMessage" | "onClose">) {
    if (!Impl) throw new Error("no EventSource in this environment");
    const es = new Impl(url);
    es.onmessage = (ev: MessageEvent) => handlers.onMessage(String(ev.data));
    // EventSource would retry by itself with one Last-Event-ID; the client reconnects itself
    // instead, so every channel resumes from its own position, with backoff.
    es.onerror = () => handlers.onClose({ code: 0, reason: "event stream closed" });
    this.es = es;
  }

  close(): void {
    this.es.close();
  }
}
