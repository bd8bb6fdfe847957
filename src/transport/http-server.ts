import { randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Socket } from "node:net";
import type { ServerApi } from "../api/server-api.js";
import type { TokenVerifier } from "../auth/jwt.js";
import { splitAddr, type Config } from "../config.js";
import {
  HubError,
  ListenError,
  disconnectNormal,
  disconnectNoPong,
  disconnectShutdown,
  errBadRequest,
  errNotFound,
} from "../errors.js";
import { ErrorCode } from "../gen/realtime/v1/types.js";
import type { Logger } from "../log.js";
import type { HubNode } from "../node.js";
import { Session } from "../session.js";
import { createMetrics } from "../metrics.js";
import type { SubscribeCommand } from "../gen/realtime/v1/client.js";
import { parseEventId } from "../protocol/frame.js";
import { Frame } from "../protocol/frame.js";
import { ConnectionLimits } from "./connection-limits.js";
import { clientAborted, handleApiRequest } from "./http-api.js";
import { HttpRequestError, writeHttpError } from "./http-error.js";
import { LongPollTransport } from "./longpoll.js";
import { SseTransport } from "./sse.js";
import { serveStatic } from "./static.js";
import type { Transport } from "../transport.js";
import { WebSocketEdge } from "./websocket.js";

export interface HttpDeps {
  node: HubNode;
  api: ServerApi;
  verifier: TokenVerifier;
  config: Config;
  log: Logger;
}

/** Most channels one SSE or long-poll connection may ask for in its URL. */
const MAX_QUERY_CHANNELS = 64;
/** Response header of the first long-poll request: the secret every later poll must present. */
export const POLL_SECRET_HEADER = "X-Poll-Secret";

/**
 * The HTTP edge: WebSocket, SSE and long-polling for browsers, the HTTP API for backends,
 * /health, and the demo page.
 */
export async function startHttpServer(deps: HttpDeps): Promise<{ port: number; close(): Promise<void> }> {
  const { node, config, log } = deps;
  const limits = new ConnectionLimits(config);
  /**
   * A session holding one of the node's connection slots until it closes, or why the client
   * may not have one (maxConnections, maxConnectionsPerIp).
   */
  const newSession = (t: Transport, req: IncomingMessage) => {
    const slot = limits.acquire(req.socket.remoteAddress ?? "", t.name);
    return "refused" in slot ? slot.refused : new Session(node, t, deps.verifier, slot.release);
  };
  const ws = new WebSocketEdge(config.maxMessageBytes, (t, req) => {
    const s = newSession(t, req);
    return s instanceof Session ? s : s.disconnect;
  });
  const polls = new Map<string, { session: Session; transport: LongPollTransport; secret: string }>();
  let closing = false;
  const metrics = createMetrics(node, { processMetrics: true, connections: limits });

  const headersTimeout = config.httpHeadersTimeoutSeconds * 1000;
  const server = createServer(
    {
      // Time to receive a request, headers and body; Node checks only every
      // connectionsCheckingInterval. Streams (SSE, long polls, WebSockets) are not concerned:
      // their request is complete once its headers are in.
      headersTimeout,
      requestTimeout: headersTimeout + config.httpBodyTimeoutSeconds * 1000,
      connectionsCheckingInterval: 1000,
    },
    (req, res) => {
      handle(req, res).catch((err: unknown) => {
        if (clientAborted(req, err)) return void log.debug({ err, url: req.url }, "HTTP client went away mid-request");
        log.error({ err, url: req.url }, "HTTP request failed");
        writeHttpError(res, err);
      });
    },
  );

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname;
    if (path === "/health") return health(res);
    if (path === "/metrics") {
      const text = await metrics.metrics();
      res.writeHead(200, { "Content-Type": metrics.contentType });
      return void res.end(text);
    }
    if (closing) {
      return void writeHttpError(res, new HubError(ErrorCode.ERROR_CODE_NOT_AVAILABLE, "shutting down: retry on another node", true));
    }
    if (path.startsWith("/api/")) return handleApiRequest(req, res, path.slice(5), { api: deps.api, apiKey: config.apiKey, log });
    if (path === "/connection/sse") return sse(req, res, url);
    if (path === "/connection/poll") return poll(req, res, url);
    if (req.method === "GET" && (await serveStatic(path, res))) return;
    writeHttpError(res, errNotFound(`nothing at ${path}`));
  }

  function health(res: ServerResponse): void {
    const brokerHealthy = node.broker.healthy();
    const ok = !closing && !node.isClosed;
    json(res, ok ? 200 : 503, { status: ok ? "ok" : "shutting down", node: node.id, broker: { kind: node.broker.kind, healthy: brokerHealthy } });
  }

  /** The channels and recovery positions a receive-only connection asks for in its URL. */
  function subscriptionsFrom(req: IncomingMessage, url: URL): SubscribeCommand[] {
    const channels = url.searchParams.getAll("channel");
    if (channels.length === 0) throw errBadRequest("at least one channel query parameter is required");
    if (channels.length > MAX_QUERY_CHANNELS) throw errBadRequest(`at most ${MAX_QUERY_CHANNELS} channels`);
    const since = new Map<string, { epoch: string; offset: string }>();
    const lastEventId = req.headers["last-event-id"];
    for (const id of [...url.searchParams.getAll("since"), ...(typeof lastEventId === "string" ? [lastEventId] : [])]) {
      const p = parseEventId(id);
      if (!p) throw errBadRequest(`invalid position ${JSON.stringify(id)}: expected <channel>:<epoch>:<offset>`);
      since.set(p.channel, p);
    }
    return channels.map((channel) => {
      node.options(channel); // invalid names and unknown namespaces fail before the stream starts
      const pos = since.get(channel);
      return { channel, token: url.searchParams.get("token:" + channel) ?? "", recover: !!pos, epoch: pos?.epoch ?? "", offset: pos?.offset ?? "0" };
    });
  }

  async function sse(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method !== "GET") return void writeHttpError(res, new HttpRequestError(405, ErrorCode.ERROR_CODE_BAD_REQUEST, "use GET", { Allow: "GET" }));
    const transport = new SseTransport(res);
    const session = newSession(transport, req);
    if (!(session instanceof Session)) return void writeHttpError(res, session.error);
    // Registered first: a client that leaves during connect must not leave a session behind.
    req.on("close", () => session.close(disconnectNormal));
    let subs: SubscribeCommand[];
    let connectResult;
    try {
      subs = subscriptionsFrom(req, url);
      connectResult = await session.connect({ token: url.searchParams.get("token") ?? "" });
    } catch (err) {
      session.close(disconnectNormal);
      return void writeHttpError(res, err);
    }
    if (session.closed) return;
    transport.open();
    session.write(new Frame({ id: 0, error: undefined, connect: connectResult }));
    for (let i = 0; i < subs.length; i++) await session.subscribeAndStream(i + 1, subs[i]!);
  }

  async function poll(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const timeoutMs = Math.min(Number(url.searchParams.get("timeout") ?? config.longPollTimeoutSeconds) || 0, config.longPollTimeoutSeconds) * 1000;
    const clientId = url.searchParams.get("client");
    if (clientId) {
      const entry = polls.get(clientId);
      // The client id is public (presence, join/leave, publication info): only the secret
      // proves the poller owns the session, and a wrong one looks exactly like no session.
      if (!entry || !sameSecret(entry.secret, url.searchParams.get("secret") ?? ""))
        return void writeHttpError(res, errNotFound("unknown or expired long-poll session: connect again"));
      entry.transport.poll(res, timeoutMs);
      if (entry.transport.closed) polls.delete(clientId);
      return;
    }
    const transport = new LongPollTransport();
    const session = newSession(transport, req);
    if (!(session instanceof Session)) return void writeHttpError(res, session.error);
    let subs: SubscribeCommand[];
    try {
      subs = subscriptionsFrom(req, url);
      const result = await session.connect({ token: url.searchParams.get("token") ?? "" });
      session.write(new Frame({ id: 0, error: undefined, connect: result }));
    } catch (err) {
      session.close(disconnectNormal);
      return void writeHttpError(res, err);
    }
    const secret = randomBytes(32).toString("base64url");
    polls.set(session.id, { session, transport, secret });
    for (let i = 0; i < subs.length; i++) await session.subscribeAndStream(i + 1, subs[i]!);
    res.setHeader(POLL_SECRET_HEADER, secret);
    transport.poll(res, 0);
  }

  // Long-poll sessions whose client stopped polling are closed (their presence goes too).
  const reaper = setInterval(() => {
    const deadline = Date.now() - (config.longPollTimeoutSeconds + config.pingIntervalSeconds) * 1000;
    for (const [id, { session, transport }] of polls) {
      if (transport.closed || session.closed) polls.delete(id);
      else if (transport.lastPoll < deadline) {
        session.close(disconnectNoPong);
        polls.delete(id);
      }
    }
  }, 5000);
  reaper.unref();

  server.on("upgrade", (req, socket, head) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/connection/websocket" || closing) {
      socket.end(`HTTP/1.1 ${closing ? "503 Service Unavailable" : "404 Not Found"}\r\nConnection: close\r\n\r\n`);
      return;
    }
    ws.handleUpgrade(req, socket, head);
  });
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    // A request not received in time (headersTimeout, requestTimeout) is 408, as Node's own.
    const status = err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "408 Request Timeout" : "400 Bad Request";
    // A response under way (its headers sent) must not get a second one in the middle.
    const answering = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (socket.writable && !answering?.headersSent) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
    // Closed once that is written, even if the client never closes its side.
    socket.destroySoon();
  });

  const { host, port } = splitAddr(config.httpAddr);
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) => reject(new ListenError(`httpAddr ${config.httpAddr}: ${err.message}`, { cause: err })));
    server.listen(port, host, () => {
      server.removeAllListeners("error");
      resolve();
    });
  });
  const actualPort = (server.address() as AddressInfo).port;
  log.info({ addr: `${host}:${actualPort}` }, "HTTP edge listening");

  return {
    port: actualPort,
    close: () =>
      new Promise<void>((resolve) => {
        if (closing) return resolve();
        closing = true;
        clearInterval(reaper);
        ws.shutdown(disconnectShutdown);
        // SSE streams and long polls end with their disconnect push during the window; their
        // keep-alive connections go idle only then and would otherwise hold it open to the end.
        const idle = setInterval(() => server.closeIdleConnections(), 50).unref();
        server.close(() => {
          clearInterval(idle);
          resolve();
        });
        server.closeIdleConnections();
        // Connections still open after the shutdown window are cut.
        setTimeout(() => {
          ws.terminate();
          server.closeAllConnections();
        }, config.shutdownTimeoutSeconds * 1000).unref();
      }),
  };
}

/** Constant-time, so response timing does not reveal how much of a guessed secret was right. */
function sameSecret(secret: string, given: string): boolean {
  const a = Buffer.from(secret);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}
