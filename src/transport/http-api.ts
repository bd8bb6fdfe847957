import type { IncomingMessage, ServerResponse } from "node:http";
import * as hub from "../gen/realtime/v1/hub.js";
import { ErrorCode } from "../gen/realtime/v1/types.js";
import type { ServerApi } from "../api/server-api.js";
import { MAX_PUBLISH_BYTES } from "../config.js";
import { apiAuthError, type AdminAuth } from "./admin-auth.js";
import { errBadRequest, errNotFound } from "../errors.js";
import { HttpRequestError, writeHttpError } from "./http-error.js";
import type { Logger } from "../log.js";
import { embedJsonIn, embedJsonOut } from "../protocol/codec.js";

/** Largest HTTP API body, the same as grpc-js's default receive limit. */
export const MAX_API_BODY_BYTES = MAX_PUBLISH_BYTES;

interface Codec<T> {
  fromJSON(o: unknown): T;
  toJSON(m: T): unknown;
  decode(b: Uint8Array): T;
  encode(m: T): { finish(): Uint8Array };
}

/** One method: its request and response codecs and the call, types erased to sit in one table. */
interface Route {
  req: Codec<unknown>;
  res: Codec<unknown>;
  call: (api: ServerApi, req: unknown) => Promise<unknown>;
}

const route = <Req, Res>(req: Codec<Req>, res: Codec<Res>, call: (api: ServerApi, r: Req) => Promise<Res>): Route => ({
  req,
  res,
  call: call as Route["call"],
});

/** POST /api/<method>: the unary HubService methods (Subscribe streams at /api/subscribe, admin-subscribe.ts; the other streams are gRPC-only). */
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
  eraseuser: route(hub.EraseUserRequest, hub.EraseUserResponse, (a, r) => a.eraseUser(r)),
};

/** `presence_stats`, `presenceStats` and `PresenceStats` all name the same method. */
const routeKey = (name: string) => name.replace(/[_-]/g, "").toLowerCase();

/** The request body, at most MAX_API_BODY_BYTES (413 past it). */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
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

class PayloadTooLarge extends HttpRequestError {
  constructor() {
    super(413, ErrorCode.ERROR_CODE_LIMIT_EXCEEDED, `body larger than ${MAX_API_BODY_BYTES} bytes`);
  }
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
  deps: { api: ServerApi; apiKey: string; admin: AdminAuth; log: Logger },
): Promise<void> {
  try {
    // Own keys only: `/api/constructor` must not find Object.prototype.constructor.
    const key = routeKey(method);
    const denied = apiAuthError(req.headers.authorization, key, deps.apiKey, deps.admin);
    if (denied) throw denied;
    const r = Object.hasOwn(ROUTES, key) ? ROUTES[key] : undefined;
    if (!r) throw errNotFound(`no API method ${JSON.stringify(method)} (known: ${Object.keys(ROUTES).join(", ")})`);
    if (req.method !== "POST") throw new HttpRequestError(405, ErrorCode.ERROR_CODE_BAD_REQUEST, "use POST", { Allow: "POST" });
    const type = (req.headers["content-type"] ?? "application/json").split(";")[0]!.trim().toLowerCase();
    const binary = type === "application/x-protobuf" || type === "application/protobuf";
    if (!binary && type !== "application/json")
      throw new HttpRequestError(415, ErrorCode.ERROR_CODE_BAD_REQUEST, "use application/json or application/x-protobuf");
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
    const e = writeHttpError(res, deps.api.failed("http", err));
    if (e.code === ErrorCode.ERROR_CODE_INTERNAL) deps.log[e.temporary ? "warn" : "error"]({ err, method }, "HTTP API call failed");
  }
}
