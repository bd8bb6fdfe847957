import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Socket } from "node:net";
import type { ServerApi } from "../api/server-api.js";
import type { TokenVerifier } from "../auth/jwt.js";
import { splitAddr, type Config } from "../config.js";
import { HubError, ListenError, disconnectShutdown, errBadRequest, errLimitExceeded, errNotFound } from "../errors.js";
import { ErrorCode } from "../gen/realtime/v1/types.js";
import type { Logger } from "../log.js";
import type { HubNode } from "../node.js";
import { Session } from "../session.js";
import { createMetrics } from "../metrics.js";
import { isAdminPath, logAdminPage, setAdminPageHeaders } from "./admin-page.js";
import { apiAuthError } from "./admin-auth.js";
import { API_SUBSCRIBE_PATH, SubscribeStreams } from "./admin-subscribe.js";
import { captureRequest } from "./connection-request.js";
import { ConnectionLimits } from "./connection-limits.js";
import { clientAborted, handleApiRequest } from "./http-api.js";
import { EMULATION_PATH, EmulationSessions } from "./emulation.js";
import { writeHttpError } from "./http-error.js";
import { LongPollEndpoint, POLL_SECRET_HEADER } from "./longpoll-endpoint.js";
import { MERCURE_PATH, MercureEndpoint } from "./mercure-endpoint.js";
import { answerPreflight, OriginPolicy } from "./origins.js";
import type { NewSession } from "./receive-only.js";
import { handleSse } from "./sse-endpoint.js";
import { ADMIN_PAGE_FILE, serveStatic } from "./static.js";
import type { TlsFiles } from "./tls-files.js";
import type { Transport } from "../transport.js";
import { WebSocketEdge } from "./websocket.js";

export interface HttpDeps {
  node: HubNode;
  api: ServerApi;
  verifier: TokenVerifier;
  config: Config;
  log: Logger;
  /** Certificate files: serve https and wss; null: plain http. */
  tls: TlsFiles | null;
}


/**
 * The HTTP edge: WebSocket, SSE and long-polling for browsers, the HTTP API for backends,
 * /health, the demo page and, with `admin` on, the admin page.
 */
export async function startHttpServer(deps: HttpDeps): Promise<{ port: number; reloadTls(): boolean; close(): Promise<void> }> {
  const { node, config, log } = deps;
  const limits = new ConnectionLimits(config);
  const origins = new OriginPolicy(config.allowedOrigins);
  /**
   * A session holding one of the node's connection slots until it closes, or why the client
   * may not have one (maxConnections, maxConnectionsPerIp).
   */
  const newSession: NewSession = (t: Transport, req: IncomingMessage) => {
    const slot = limits.acquire(req.socket.remoteAddress ?? "", t.name);
    return "refused" in slot ? slot.refused : new Session(node, t, deps.verifier, slot.release, captureRequest(req, node.proxy.forwarded));
  };
  const ws = new WebSocketEdge(config.maxMessageBytes, (t, req) => {
    const s = newSession(t, req);
    return s instanceof Session ? s : s.disconnect;
  });
  // Commands of SSE and long-poll sessions (POST /connection/emulation).
  const emulation = new EmulationSessions(config.maxMessageBytes, origins);
  const polls = new LongPollEndpoint(node, config, newSession, emulation);
  const mercure = config.mercure
    ? new MercureEndpoint(node, deps.verifier, config, (req) => limits.acquire(req.socket.remoteAddress ?? "", "sse"))
    : null;
  const admin = { admin: config.admin, adminToken: config.adminToken };
  // The HTTP API's Subscribe: each stream holds a connection slot, counted as an SSE one.
  const apiStreams = new SubscribeStreams({
    api: deps.api,
    log,
    authorize: (authorization) => apiAuthError(authorization, "subscribe", config.apiKey, admin),
    acquire: (req) => limits.acquire(req.socket.remoteAddress ?? "", "sse"),
    maxBytes: config.subscribeBacklogMaxBytes,
    maxEvents: config.subscribeBacklogMaxEvents,
    keepAliveMs: config.pingIntervalSeconds * 1000,
  });
  logAdminPage(config, log);
  let closing = false;
  const metrics = createMetrics(node, {
    processMetrics: true,
    connections: {
      openConnections: (t) => limits.openConnections(t),
      refused: (reason) => (reason === "origin" ? origins.refused() : limits.refused(reason)),
    },
  });

  const headersTimeout = config.httpHeadersTimeoutSeconds * 1000;
  const options = {
    // Time to receive a request, headers and body; Node checks only every
    // connectionsCheckingInterval. Streams (SSE, long polls, WebSockets) are not concerned:
    // their request is complete once its headers are in.
    headersTimeout,
    requestTimeout: headersTimeout + config.httpBodyTimeoutSeconds * 1000,
    connectionsCheckingInterval: 1000,
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      if (clientAborted(req, err)) return void log.debug({ err, url: req.url }, "HTTP client went away mid-request");
      log.error({ err, url: req.url }, "HTTP request failed");
      writeHttpError(res, err);
    });
  };
  const tls = deps.tls;
  const tlsServer = tls ? createTlsServer({ ...options, ...tls.read() }, onRequest) : null;
  const server = tlsServer ?? createServer(options, onRequest);

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
    if (path === API_SUBSCRIBE_PATH) return apiStreams.handle(req, res);
    if (path.startsWith("/api/")) return handleApiRequest(req, res, path.slice(5), { api: deps.api, apiKey: config.apiKey, admin, log });
    if (isAdminPath(path)) {
      if (!config.admin) return void writeHttpError(res, errNotFound(`nothing at ${path} (the admin page is off: set admin)`));
      setAdminPageHeaders(res, ADMIN_PAGE_FILE);
    }
    if (path === "/connection/sse" || path === "/connection/poll") {
      // The long-poll client reads its session secret from a header: pages of other origins
      // see it only when it is exposed.
      origins.setCorsHeaders(req, res, path === "/connection/poll" ? [POLL_SECRET_HEADER] : []);
      const refused = origins.refusal(req);
      if (refused) return void writeHttpError(res, refused);
      if (req.method === "OPTIONS") return answerPreflight(req, res, "GET, OPTIONS");
      return path === "/connection/sse" ? handleSse(req, res, url, node, newSession, emulation) : polls.handle(req, res, url);
    }
    if (path === EMULATION_PATH) return emulation.handle(req, res, url);
    if (path === MERCURE_PATH && mercure) {
      origins.setCorsHeaders(req, res);
      const refused = origins.refusal(req);
      if (refused) return void writeHttpError(res, refused);
      if (req.method === "OPTIONS") return answerPreflight(req, res, "GET, OPTIONS");
      return mercure.handle(req, res, url);
    }
    if ((req.method === "GET" || req.method === "HEAD") && (await serveStatic(req, path, res))) return;
    writeHttpError(res, errNotFound(`nothing at ${path}`));
  }

  function health(res: ServerResponse): void {
    const brokerHealthy = node.broker.healthy();
    const ok = !closing && !node.isClosed;
    json(res, ok ? 200 : 503, { status: ok ? "ok" : "shutting down", node: node.id, broker: { kind: node.broker.kind, healthy: brokerHealthy } });
  }

  server.on("upgrade", (req, socket, head) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/connection/websocket" || closing) {
      socket.end(`HTTP/1.1 ${closing ? "503 Service Unavailable" : "404 Not Found"}\r\nConnection: close\r\n\r\n`);
      return;
    }
    // Refused before the upgrade: a page of another origin learns nothing but the status.
    const refused = origins.refusal(req);
    if (refused) return void socket.end(rawResponse("403 Forbidden", refused));
    ws.handleUpgrade(req, socket, head);
  });
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    // A response under way (its headers sent) must not get a second one in the middle.
    const answering = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (socket.writable && !answering?.headersSent) socket.end(rawHttpError(err.code));
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
    /**
     * Serves new connections with the certificate files as they are now (open connections keep
     * theirs); false when the edge has no TLS. Throws a ConfigError, and keeps the certificate
     * it had, when a file is unreadable or wrong.
     */
    reloadTls: () => {
      if (!tls || !tlsServer) return false;
      tlsServer.setSecureContext(tls.read());
      return true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (closing) return resolve();
        closing = true;
        polls.close();
        mercure?.close();
        apiStreams.close();
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


function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

/**
 * What Node's HTTP parser refused, as a raw response with the same JSON error body as every
 * other HTTP error (the request never reached a handler, so there is no response object).
 */
function rawHttpError(code: string | undefined): string {
  const [status, e] =
    code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? ["408 Request Timeout", errLimitExceeded("request not received in time (httpHeadersTimeoutSeconds, httpBodyTimeoutSeconds)")]
      : code === "HPE_HEADER_OVERFLOW"
        ? ["431 Request Header Fields Too Large", errLimitExceeded("request line and headers larger than 16 KiB")]
        : ["400 Bad Request", errBadRequest("malformed HTTP request")];
  return rawResponse(status, e);
}

/** A raw response with the JSON error body, for a socket that has no response object. */
function rawResponse(status: string, e: HubError): string {
  const body = JSON.stringify({ error: e.toWire() });
  return `HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}
