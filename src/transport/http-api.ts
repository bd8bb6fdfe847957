import type { IncomingMessage, ServerResponse } from "node:http";
import { timingSafeEqual } from "node:crypto";
import * as hub from "../gen/realtime/v1/hub.js";
import { ErrorCode } from "../gen/realtime/v1/types.js";
import type { ServerApi } from "../api/server-api.js";
import { MAX_PUBLISH_BYTES } from "../config.js";
import { errBadRequest, errNotFound, errUnauthorized, HubError, toHubError } from "../errors.js";
import type { Logger } from "../log.js";
import { embedJsonIn, embedJsonOut } from "./codec.js";

/** Largest HTTP API body, the same as grpc-js's default receive limit. */
export const MAX_API_BODY_BYTES = MAX_PUBLISH_BYTES;

interface Codec<T> {
  fromJSON(o: unknown): T;
  toJSON(m: T): unknown;
  decode(b: Uint8Array): T;
  encode(m: T): { finish(): Uint8Array };
}

interface Route {
  req: Codec<any>;
  res: Codec<any>;
  call: (api: ServerApi, req: any) => Promise<unknown>;
}

const route = <Req, Res>(req: Codec<Req>, res: Codec<Res>, call: (api: ServerApi, r: Req) => Promise<Res>): Route => ({
  req,
  res,
  call: call as Route["call"],
});

/** POST /api/<method>: the unary HubService methods (streams are gRPC-only). */
const ROUTES: Record<string, Route> = {
  publish: route(hub.PublishRequest, hub.PublishResponse, (a, r) => a.publish(r)),
  broadcast: route(hub.BroadcastRequest, hub.BroadcastResponse, (a, r) => a.broadcast(r)),
  presence: route(hub.PresenceRequest, hub.PresenceResponse, (a, r) => a.presence(r)),
  presencestats: route(hub.PresenceStatsRequest, hub.PresenceStatsResponse, (a, r) => a.presenceStats(r)),
  history: route(hub.HistoryRequest, hub.HistoryResponse, (a, r) => a.history(r)),
  historyremove: route(hub.HistoryRemoveRequest, hub.HistoryRemoveResponse, (a, r) => a.historyRemove(r)),
  channels: route(hub.ChannelsRequest, hub.ChannelsResponse, (a, r) => a.channels(r)),
  info: route(hub.InfoRequest, hub.InfoResponse, (a, r) => a.info(r)),
  disconnect: route(hub.DisconnectRequest, hub.DisconnectResponse, (a, r) => a.disconnect(r)),
  unsubscribe: route(hub.UnsubscribeRequest, hub.UnsubscribeResponse, (a, r) => a.unsubscribe(r)),
};

/** `presence_stats`, `presenceStats` and `PresenceStats` all name the same method. */
const routeKey = (name: string) => name.replace(/[_-]/g, "").toLowerCase();

/**
 * Our error codes -> HTTP statuses, once for the whole API. Bad input is 400, missing
 * credentials 401, refused 403, unknown things 404, limits 429; what the hub cannot do now
 * (a feature off for the channel) is 409: retrying will not help until config changes.
 */
export function httpStatus(code: ErrorCode): number {
  switch (code) {
    case ErrorCode.ERROR_CODE_BAD_REQUEST:
    case ErrorCode.ERROR_CODE_ALREADY_SUBSCRIBED:
    case ErrorCode.ERROR_CODE_NOT_SUBSCRIBED:
    case ErrorCode.ERROR_CODE_UNRECOVERABLE_POSITION:
      return 400;
    case ErrorCode.ERROR_CODE_UNAUTHORIZED:
    case ErrorCode.ERROR_CODE_TOKEN_EXPIRED:
      return 401;
    case ErrorCode.ERROR_CODE_PERMISSION_DENIED:
      return 403;
    case ErrorCode.ERROR_CODE_UNKNOWN_CHANNEL:
    case ErrorCode.ERROR_CODE_METHOD_NOT_FOUND:
    case ErrorCode.ERROR_CODE_NOT_FOUND:
      return 404;
    case ErrorCode.ERROR_CODE_NOT_AVAILABLE:
      return 409;
    case ErrorCode.ERROR_CODE_LIMIT_EXCEEDED:
    case ErrorCode.ERROR_CODE_TOO_MANY_REQUESTS:
      return 429;
    default:
      return 500;
  }
}

function keyMatches(header: string | undefined, apiKey: string): boolean {
  const m = /^apikey\s+(.+)$/i.exec(header ?? "");
  if (!m) return false;
  const given = Buffer.from(m[1]!.trim());
  const want = Buffer.from(apiKey);
  return given.length === want.length && timingSafeEqual(given, want);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > MAX_API_BODY_BYTES) throw new PayloadTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_API_BODY_BYTES) throw new PayloadTooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

class PayloadTooLarge extends HubError {
  constructor() {
    super(ErrorCode.ERROR_CODE_LIMIT_EXCEEDED, `body larger than ${MAX_API_BODY_BYTES} bytes`);
  }
}

function sendError(res: ServerResponse, status: number, err: HubError): void {
  const body = JSON.stringify({ error: err.toWire() });
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

const ABORT_CODES = new Set(["ECONNRESET", "EPIPE", "ERR_STREAM_PREMATURE_CLOSE"]);

/**
 * Whether `err` is the client going away before its request finished (it aborted, reset the
 * connection, or was cut by the request timeout): the request stream broke with it, not
 * something inside the hub. Such failures are logged at debug; real ones stay errors.
 */
export function clientAborted(req: IncomingMessage, err: unknown): boolean {
  if (!req.destroyed || req.complete) return false;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return (err != null && err === req.errored) || (typeof code === "string" && ABORT_CODES.has(code));
}

/** Handles POST /api/<method> with a JSON (proto3 JSON, `data` embedded) or protobuf body. */
export async function handleApiRequest(
  req: IncomingMessage,
  res: ServerResponse,
  method: string,
  deps: { api: ServerApi; apiKey: string; log: Logger },
): Promise<void> {
  try {
    if (deps.apiKey && !keyMatches(req.headers.authorization, deps.apiKey))
      throw errUnauthorized(
        req.headers.authorization ? "wrong API key" : "API key required: send `Authorization: apikey <key>`",
      );
    const r = ROUTES[routeKey(method)];
    if (!r) throw errNotFound(`no API method ${JSON.stringify(method)} (known: ${Object.keys(ROUTES).join(", ")})`);
    if (req.method !== "POST") {
      res.writeHead(405, { Allow: "POST", "Content-Type": "application/json" });
      res.end(JSON.stringify({ error: errBadRequest("use POST").toWire() }));
      return;
    }
    const type = (req.headers["content-type"] ?? "application/json").split(";")[0]!.trim().toLowerCase();
    const binary = type === "application/x-protobuf" || type === "application/protobuf";
    if (!binary && type !== "application/json") {
      res.writeHead(415, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ error: errBadRequest("use application/json or application/x-protobuf").toWire() }));
      return;
    }
    const body = await readBody(req);
    let request: unknown;
    try {
      if (binary) request = r.req.decode(body);
      else {
        const obj: unknown = body.length ? JSON.parse(body.toString("utf8")) : {};
        if (typeof obj !== "object" || obj === null || Array.isArray(obj)) throw new Error("body must be a JSON object");
        embedJsonIn(obj as Record<string, unknown>);
        request = r.req.fromJSON(obj);
      }
    } catch (err) {
      throw errBadRequest(`invalid ${binary ? "protobuf" : "JSON"} body: ${(err as Error).message}`);
    }
    const result = await r.call(deps.api, request);
    if (binary) {
      const out = r.res.encode(result).finish();
      res.writeHead(200, { "Content-Type": "application/x-protobuf", "Content-Length": out.length });
      res.end(out);
    } else {
      const obj = r.res.toJSON(result) as Record<string, unknown>;
      embedJsonOut(obj);
      const out = JSON.stringify(obj);
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(out) });
      res.end(out);
    }
  } catch (err) {
    // Nobody is left to answer: the client's problem, not the hub's.
    if (clientAborted(req, err)) return void deps.log.debug({ err, method }, "HTTP API client went away mid-request");
    const e = err instanceof PayloadTooLarge ? err : toHubError(err);
    if (e.code === ErrorCode.ERROR_CODE_INTERNAL) deps.log.error({ err, method }, "HTTP API call failed");
    // A temporary internal error (a store or broker down) is 503: retry later.
    const status = err instanceof PayloadTooLarge ? 413 : e.code === ErrorCode.ERROR_CODE_INTERNAL && e.temporary ? 503 : httpStatus(e.code);
    sendError(res, status, e);
  }
}
