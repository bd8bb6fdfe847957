import type { IncomingMessage, ServerResponse } from "node:http";
import type { ServerApi } from "../api/server-api.js";
import { errBadRequest, errLimitExceeded, HubError } from "../errors.js";
import { SubscribeRequest, SubscribeResponse } from "../gen/realtime/v1/hub.js";
import { ErrorCode } from "../gen/realtime/v1/types.js";
import type { Logger } from "../log.js";
import { embedJsonIn, embedJsonOut } from "../protocol/codec.js";
import type { Refusal } from "./connection-limits.js";
import { HttpRequestError, writeHttpError } from "./http-error.js";
import { clientAborted, readBody } from "./http-api.js";

/** The HTTP API's streaming method: `POST /api/subscribe`. */
export const API_SUBSCRIBE_PATH = "/api/subscribe";

/** What the streams of one HTTP edge need. */
export interface SubscribeStreamDeps {
  api: ServerApi;
  log: Logger;
  /** Checks the call's credentials (admin-auth.ts apiAuthError for "subscribe"): the error, or null. */
  authorize(authorization: string | undefined): HubError | null;
  /** A connection slot (maxConnections, maxConnectionsPerIp) held while the stream is open, or why not. */
  acquire(req: IncomingMessage): { release: () => void } | { refused: Refusal };
  /** Bytes written and not yet taken by the client past which the stream ends (config subscribeBacklogMaxBytes). */
  maxBytes: number;
  /** Lines written and not yet taken by the client past which the stream ends (config subscribeBacklogMaxEvents). */
  maxEvents: number;
  /** A `{}` line this often, so proxies and the client see a silent stream is alive (config pingIntervalSeconds). */
  keepAliveMs: number;
}

/**
 * The server API's `Subscribe` over HTTP, for the admin page and any backend without gRPC:
 * `POST /api/subscribe` with a JSON SubscribeRequest answers `application/x-ndjson`, one
 * SubscribeResponse per line (proto3 JSON, `data` embedded like the rest of the HTTP API), a
 * `{}` line as a keep-alive. The 200 and its headers are sent once the subscription is in
 * place, so a publish made after they arrive is on the stream; a bad request is an ordinary
 * HTTP error. The stream ends when the client goes away, when it falls behind by more than
 * the backlog bounds (a last `{"error":...}` line, code 106), and on shutdown (an
 * `{"error":...}` line, temporary). Each stream holds a connection slot like an SSE one.
 * (fetch() reads it; EventSource could not send the Authorization header.)
 */
export class SubscribeStreams {
  private readonly open = new Map<ServerResponse, (e: HubError) => void>();

  constructor(private readonly deps: SubscribeStreamDeps) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { api, log } = this.deps;
    let slot: { release: () => void } | null = null;
    try {
      const denied = this.deps.authorize(req.headers.authorization);
      if (denied) throw denied;
      if (req.method !== "POST") throw new HttpRequestError(405, ErrorCode.ERROR_CODE_BAD_REQUEST, "use POST", { Allow: "POST" });
      const type = (req.headers["content-type"] ?? "application/json").split(";")[0]!.trim().toLowerCase();
      if (type !== "application/json") throw new HttpRequestError(415, ErrorCode.ERROR_CODE_BAD_REQUEST, "use application/json");
      const body = await readBody(req);
      let request: SubscribeRequest;
      try {
        const obj: unknown = body.length ? JSON.parse(body.toString("utf8")) : {};
        if (typeof obj !== "object" || obj === null || Array.isArray(obj)) throw new Error("body must be a JSON object");
        embedJsonIn(obj as Record<string, unknown>);
        request = SubscribeRequest.fromJSON(obj);
      } catch (err) {
        throw errBadRequest(`invalid JSON body: ${(err as Error).message}`);
      }
      const got = this.deps.acquire(req);
      if ("refused" in got) throw got.refused.error;
      slot = got;
      await this.stream(res, request, got.release);
    } catch (err) {
      slot?.release();
      if (clientAborted(req, err)) return void log.debug({ err }, "HTTP Subscribe: client went away before the stream started");
      const e = writeHttpError(res, api.failed("http", err));
      if (e.code === ErrorCode.ERROR_CODE_INTERNAL) log[e.temporary ? "warn" : "error"]({ err }, "HTTP Subscribe failed");
    }
  }

  /** Subscribes, then streams until the client leaves, falls behind, or the edge closes. */
  private async stream(res: ServerResponse, request: SubscribeRequest, release: () => void): Promise<void> {
    const { api, log, maxBytes, maxEvents } = this.deps;
    let done = false;
    let started = false;
    let stop: (() => Promise<void>) | null = null;
    /** Lines written and not yet handed to the socket. */
    let held = 0;
    /** Events of the channels subscribed first, while the others are still being subscribed. */
    let early: string[] = [];
    const leave = (fn: () => Promise<void>) => fn().catch((err: unknown) => log.warn({ err }, "HTTP Subscribe: unsubscribing failed"));
    /** Leaves the channels and frees the slot; idempotent. */
    const finish = () => {
      if (done) return;
      done = true;
      clearInterval(keepAlive);
      this.open.delete(res);
      release();
      if (stop) void leave(stop);
    };
    /** Ends the stream with a last error line (or, before it started, an HTTP error). */
    const fail = (e: HubError) => {
      if (done) return;
      finish();
      if (!started) return void writeHttpError(res, e);
      if (!res.writableEnded && !res.destroyed) res.end(JSON.stringify({ error: e.toWire() }) + "\n");
    };
    const line = (obj: unknown) => {
      if (done || res.destroyed) return;
      // Node buffers whatever write() is given: the bounds stop a client that does not read
      // from making the hub hold every publication of a busy channel.
      if (held >= maxEvents) return fail(errLimitExceeded(`subscriber too slow: more than ${maxEvents} events waiting (subscribeBacklogMaxEvents)`));
      if (res.writableLength > maxBytes) return fail(errLimitExceeded(`subscriber too slow: more than ${maxBytes} bytes waiting (subscribeBacklogMaxBytes)`));
      held++;
      const text = JSON.stringify(obj) + "\n";
      // Nothing is written before the 200 and its headers.
      if (!started) early.push(text);
      else res.write(text, () => held--);
    };
    const send = (ev: SubscribeResponse) => {
      const obj = SubscribeResponse.toJSON(ev) as Record<string, unknown>;
      embedJsonOut(obj);
      line(obj);
    };
    const keepAlive = setInterval(() => started && line({}), this.deps.keepAliveMs).unref();
    // The client going away (fetch aborted, tab closed) closes the response: leave at once.
    res.on("close", finish);
    this.open.set(res, fail);
    try {
      stop = await api.subscribe(request, send);
    } catch (err) {
      clearInterval(keepAlive);
      this.open.delete(res);
      done = true;
      throw err; // handle() releases the slot and answers with the error
    }
    if (done) return void leave(stop);
    started = true;
    res.writeHead(200, {
      "Content-Type": "application/x-ndjson",
      "Cache-Control": "no-cache, no-store",
      "X-Accel-Buffering": "no",
    });
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    for (const text of early) res.write(text, () => held--);
    early = [];
  }

  /** Ends every stream with a temporary error line (the edge is shutting down). */
  close(): void {
    const shutdown = new HubError(ErrorCode.ERROR_CODE_NOT_AVAILABLE, "shutting down: subscribe again, maybe on another node", true);
    for (const fail of [...this.open.values()]) fail(shutdown);
    this.open.clear();
  }
}
