import type { ServerResponse } from "node:http";
import { HubError, toHubError } from "../errors.js";
import { ErrorCode } from "../gen/realtime/v1/types.js";

/**
 * Our error codes -> HTTP statuses, once for every HTTP path (HTTP API, SSE, long-poll,
 * refused connections). The switch is exhaustive: a code added to types.proto does not
 * compile until it is mapped here.
 */
export function httpStatus(e: Pick<HubError, "code" | "temporary">): number {
  // Whatever the code, a temporary error (a store or broker down, the node shutting down or
  // full) is 503: the one status HTTP clients and proxies know to retry later.
  if (e.temporary) return 503;
  switch (e.code) {
    // The request itself is wrong: fix it, do not retry.
    case ErrorCode.ERROR_CODE_BAD_REQUEST:
    case ErrorCode.ERROR_CODE_ALREADY_SUBSCRIBED:
    case ErrorCode.ERROR_CODE_NOT_SUBSCRIBED:
    case ErrorCode.ERROR_CODE_UNRECOVERABLE_POSITION:
      return 400;
    // Credentials missing, wrong or expired.
    case ErrorCode.ERROR_CODE_UNAUTHORIZED:
    case ErrorCode.ERROR_CODE_TOKEN_EXPIRED:
      return 401;
    // Identified, but not allowed.
    case ErrorCode.ERROR_CODE_PERMISSION_DENIED:
      return 403;
    // What the request names does not exist here (a namespace, a method, a session).
    case ErrorCode.ERROR_CODE_UNKNOWN_CHANNEL:
    case ErrorCode.ERROR_CODE_METHOD_NOT_FOUND:
    case ErrorCode.ERROR_CODE_NOT_FOUND:
      return 404;
    // A feature off for the channel (presence, history): retrying cannot help until the
    // config changes, so not 503.
    case ErrorCode.ERROR_CODE_NOT_AVAILABLE:
      return 409;
    // A quota: send less, or later.
    case ErrorCode.ERROR_CODE_LIMIT_EXCEEDED:
    case ErrorCode.ERROR_CODE_TOO_MANY_REQUESTS:
      return 429;
    // Bugs: retrying will not help.
    case ErrorCode.ERROR_CODE_INTERNAL:
    case ErrorCode.ERROR_CODE_UNSPECIFIED:
    case ErrorCode.UNRECOGNIZED:
      return 500;
    default: {
      const unmapped: never = e.code;
      return unmapped;
    }
  }
}

/**
 * An error HTTP itself has a status for (405 wrong method, 413 body too large, 415 wrong
 * content type): sent with that status instead of the mapped one, and these headers.
 */
export class HttpRequestError extends HubError {
  constructor(
    readonly status: number,
    code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(code, message);
  }
}

/**
 * Answers a request with `err` as `{"error":{code,message,temporary}}`: the one way an error
 * leaves the hub over HTTP. An HttpRequestError keeps its own status. Returns the HubError
 * sent. Nothing is written to a response already under way or gone.
 */
export function writeHttpError(res: ServerResponse, err: unknown): HubError {
  const e = toHubError(err);
  if (res.headersSent || res.destroyed) {
    if (!res.writableEnded) res.end();
    return e;
  }
  const body = JSON.stringify({ error: e.toWire() });
  const own = e instanceof HttpRequestError;
  res.writeHead(own ? e.status : httpStatus(e), {
    ...(own ? e.headers : {}),
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
  });
  res.end(body);
  return e;
}
