/**
 * The codes answers may carry (types.proto) and the HTTP status each error code goes with
 * (README "HTTP API": errors come "with a matching HTTP status"), written out here so the
 * fuzz checks the contract rather than the hub's own table.
 */
import { DisconnectCode, ErrorCode } from "../../src/gen/realtime/v1/types.js";

export const ERROR_CODES: ReadonlySet<number> = new Set(Object.values(ErrorCode).filter((v): v is number => typeof v === "number" && v > 0));
export const DISCONNECT_CODES: ReadonlySet<number> = new Set(Object.values(DisconnectCode).filter((v): v is number => typeof v === "number" && v > 0));

/** The status of an HTTP answer carrying `code`; temporary errors are 503 whatever their code. */
export function expectedHttpStatus(code: number, temporary: boolean): number {
  if (temporary) return 503;
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

/** Statuses HTTP itself has for a request it refuses, with the code the body carries. */
export const HTTP_OWN_STATUS: Readonly<Record<number, number>> = {
  405: ErrorCode.ERROR_CODE_BAD_REQUEST,
  408: ErrorCode.ERROR_CODE_LIMIT_EXCEEDED,
  413: ErrorCode.ERROR_CODE_LIMIT_EXCEEDED,
  415: ErrorCode.ERROR_CODE_BAD_REQUEST,
  431: ErrorCode.ERROR_CODE_LIMIT_EXCEEDED,
};
