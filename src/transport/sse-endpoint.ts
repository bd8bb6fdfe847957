import type { IncomingMessage, ServerResponse } from "node:http";
import { disconnectNormal } from "../errors.js";
import type { ConnectResult, SubscribeCommand } from "../gen/realtime/v1/client.js";
import { ErrorCode } from "../gen/realtime/v1/types.js";
import type { HubNode } from "../node.js";
import { Frame } from "../protocol/frame.js";
import { Session } from "../session.js";
import { newSessionSecret, type EmulationSessions } from "./emulation.js";
import { HttpRequestError, writeHttpError } from "./http-error.js";
import { subscriptionsFrom, type NewSession } from "./receive-only.js";
import { SseTransport } from "./sse.js";

/**
 * GET /connection/sse: connects and subscribes from the URL, then streams. Until the stream
 * starts, failures are plain HTTP errors; after, they are error events. With `emulation=1` in
 * the query, the stream starts with a `session` event (`{"client","secret"}`): EventSource
 * cannot read response headers, and the secret lets the client send commands
 * (POST /connection/emulation).
 */
export async function handleSse(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  node: HubNode,
  newSession: NewSession,
  emulation: EmulationSessions,
): Promise<void> {
  if (req.method !== "GET") return void writeHttpError(res, new HttpRequestError(405, ErrorCode.ERROR_CODE_BAD_REQUEST, "use GET", { Allow: "GET" }));
  const transport = new SseTransport(res);
  const session = newSession(transport, req);
  if (!(session instanceof Session)) return void writeHttpError(res, session.error);
  // Registered first: a client that leaves during connect must not leave a session behind.
  req.on("close", () => {
    emulation.delete(session);
    session.close(disconnectNormal);
  });
  let subs: SubscribeCommand[];
  let connected: ConnectResult;
  try {
    subs = subscriptionsFrom(req, url, node);
    connected = await session.connect({ token: url.searchParams.get("token") ?? "" });
  } catch (err) {
    session.close(disconnectNormal);
    return void writeHttpError(res, err);
  }
  if (session.closed) return;
  transport.open();
  if (url.searchParams.get("emulation") === "1") {
    const secret = newSessionSecret();
    emulation.add(session, secret);
    transport.event("session", { client: session.id, secret });
  }
  session.write(new Frame({ id: 0, error: undefined, connect: connected }));
  for (let i = 0; i < subs.length; i++) await session.subscribeAndStream(i + 1, subs[i]!);
}
