import type { IncomingMessage } from "node:http";
import { errBadRequest } from "../errors.js";
import type { SubscribeCommand } from "../gen/realtime/v1/client.js";
import type { HubNode } from "../node.js";
import { parseEventId } from "../protocol/frame.js";
import type { Session } from "../session.js";
import type { Transport } from "../transport.js";
import type { Refusal } from "./connection-limits.js";

/** Most channels one SSE or long-poll connection may ask for in its URL. */
const MAX_QUERY_CHANNELS = 64;

/** A session for a new connection, or why it may not have one (connection caps). */
export type NewSession = (t: Transport, req: IncomingMessage) => Session | Refusal;

/**
 * The channels and recovery positions a receive-only connection (SSE, long-poll) asks for in
 * its URL: `channel` (repeatable), `token:<channel>`, and `since` / `Last-Event-ID` positions.
 * Invalid names and unknown namespaces fail here, before a stream starts.
 */
export function subscriptionsFrom(req: IncomingMessage, url: URL, node: HubNode): SubscribeCommand[] {
  const channels = url.searchParams.getAll("channel");
  // With a connect webhook the app may subscribe the client itself (server-side subscriptions).
  if (channels.length === 0 && !node.proxy.endpoint("connect"))
    throw errBadRequest("at least one channel query parameter is required");
  if (channels.length > MAX_QUERY_CHANNELS) throw errBadRequest(`at most ${MAX_QUERY_CHANNELS} channels`);
  const since = new Map<string, { epoch: string; offset: string }>();
  const lastEventId = req.headers["last-event-id"];
  for (const id of [...url.searchParams.getAll("since"), ...(typeof lastEventId === "string" ? [lastEventId] : [])]) {
    const p = parseEventId(id);
    if (!p) throw errBadRequest(`invalid position ${JSON.stringify(id)}: expected <channel>:<epoch>:<offset>`);
    since.set(p.channel, p);
  }
  return channels.map((channel) => {
    node.options(channel);
    const pos = since.get(channel);
    return { channel, token: url.searchParams.get("token:" + channel) ?? "", recover: !!pos, epoch: pos?.epoch ?? "", offset: pos?.offset ?? "0" };
  });
}
