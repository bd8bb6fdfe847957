import type { StreamPosition } from "./types.js";

/** What the URL of a receive-only stream (SSE, long-poll) needs of a subscription. */
export interface StreamChannel {
  readonly channel: string;
  /** Where to resume from (`since`), or null to start at the top. */
  readonly position: StreamPosition | null;
  /** The subscription token (private channels): at once, or a promise when it must be fetched. */
  token(): string | undefined | Promise<string>;
}

/** `ws(s)://host/connection/websocket` -> `http(s)://host/connection/<endpoint>` (sse or poll). */
export function endpointOf(wsUrl: string, endpoint: "sse" | "poll"): string {
  return wsUrl.replace(/^ws(s?):/, "http$1:").replace(/\/connection\/websocket\/?(\?.*)?$/, `/connection/${endpoint}`);
}

/**
 * The URL of a receive-only stream: SSE and long-polling subscribe in the query, each channel
 * with its position and token, in the given order (the hub answers each channel's subscribe
 * with its 1-based place as `id`), then the connection token. Tokens are fetched one after
 * the other; one that cannot be fetched is reported to `tokenFailed` and left out (the hub
 * then says why that is not enough). Throws on a bad URL.
 */
export async function streamUrl<C extends StreamChannel>(
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
