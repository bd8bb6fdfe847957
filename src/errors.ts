import { DisconnectCode, ErrorCode } from "./gen/realtime/v1/types.js";

/**
 * The one error type of the hub: a stable numeric code (ErrorCode), a message that says what
 * was wrong, and whether retrying may help. Converted to the wire form once, at each edge
 * (client protocol, HTTP API, gRPC status).
 */
export class HubError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly temporary = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "HubError";
  }

  toWire(): { code: number; message: string; temporary: boolean } {
    return { code: this.code, message: this.message, temporary: this.temporary };
  }

  /**
   * An error an app backend sent (webhook answer, HandleRpc answer), as the client gets it.
   * Code 0 means "refused" without saying why.
   */
  static fromWire(e: { code: number; message: string; temporary: boolean }, fallback = "refused by the application"): HubError {
    const code = e.code === 0 ? ErrorCode.ERROR_CODE_PERMISSION_DENIED : (e.code as ErrorCode);
    return new HubError(code, e.message || fallback, e.temporary);
  }
}

const errInternal = (msg = "internal error", cause?: unknown) =>
  new HubError(ErrorCode.ERROR_CODE_INTERNAL, msg, false, { cause });
export const errUnauthorized = (msg = "unauthorized") => new HubError(ErrorCode.ERROR_CODE_UNAUTHORIZED, msg);
export const errUnknownChannel = (msg: string) => new HubError(ErrorCode.ERROR_CODE_UNKNOWN_CHANNEL, msg);
export const errPermissionDenied = (msg = "permission denied") =>
  new HubError(ErrorCode.ERROR_CODE_PERMISSION_DENIED, msg);
export const errMethodNotFound = (msg = "method not found") => new HubError(ErrorCode.ERROR_CODE_METHOD_NOT_FOUND, msg);
export const errAlreadySubscribed = (channel: string) =>
  new HubError(ErrorCode.ERROR_CODE_ALREADY_SUBSCRIBED, `already subscribed to ${JSON.stringify(channel)}`);
export const errLimitExceeded = (msg: string) => new HubError(ErrorCode.ERROR_CODE_LIMIT_EXCEEDED, msg);
export const errBadRequest = (msg: string) => new HubError(ErrorCode.ERROR_CODE_BAD_REQUEST, msg);
export const errNotAvailable = (msg: string) => new HubError(ErrorCode.ERROR_CODE_NOT_AVAILABLE, msg);
export const errTokenExpired = (msg = "token expired") => new HubError(ErrorCode.ERROR_CODE_TOKEN_EXPIRED, msg);
export const errNotSubscribed = (channel: string) =>
  new HubError(ErrorCode.ERROR_CODE_NOT_SUBSCRIBED, `not subscribed to ${JSON.stringify(channel)}`);
export const errNotFound = (msg: string) => new HubError(ErrorCode.ERROR_CODE_NOT_FOUND, msg);

/**
 * Maps anything thrown to a HubError. Unknown failures become internal errors that are not
 * marked temporary (a bug does not go away on retry); outages of a store or broker are mapped
 * at their own boundary to temporary errors (see redis/connection.ts).
 */
export function toHubError(err: unknown): HubError {
  if (err instanceof HubError) return err;
  return errInternal("internal error", err);
}

/**
 * Why the hub closes a connection. Codes 3000-3499 let the client reconnect, 3500-3999 tell
 * it not to without a change (new token, smaller messages...).
 */
export class Disconnect {
  constructor(
    readonly code: DisconnectCode,
    readonly reason: string,
  ) {}

  get reconnect(): boolean {
    return (this.code as number) < 3500;
  }
}

export const disconnectNormal = new Disconnect(DisconnectCode.DISCONNECT_CODE_NORMAL, "normal");
export const disconnectShutdown = new Disconnect(DisconnectCode.DISCONNECT_CODE_SHUTDOWN, "shutdown");
export const disconnectSlow = new Disconnect(DisconnectCode.DISCONNECT_CODE_SLOW, "slow: outgoing queue full");
export const disconnectBadRequest = (reason = "bad request") =>
  new Disconnect(DisconnectCode.DISCONNECT_CODE_BAD_REQUEST, reason);
export const disconnectInvalidToken = (reason = "invalid token") =>
  new Disconnect(DisconnectCode.DISCONNECT_CODE_INVALID_TOKEN, reason);
export const disconnectInsufficientState = new Disconnect(
  DisconnectCode.DISCONNECT_CODE_INSUFFICIENT_STATE,
  "insufficient state: reconnect and recover",
);
export const disconnectExpired = new Disconnect(DisconnectCode.DISCONNECT_CODE_EXPIRED, "connection expired");
export const disconnectNoPong = new Disconnect(DisconnectCode.DISCONNECT_CODE_NO_PONG, "no pong");

/** A server could not bind its address (in use, not allowed); says which setting to change. */
export class ListenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ListenError";
  }
}
