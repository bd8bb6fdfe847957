/**
 * The codes answers may carry (types.proto) and the HTTP status each error code goes with
 * (README "HTTP API": errors come "with a matching HTTP status").
 */
import { httpStatus } from "../../src/transport/http-error.js";
import { DisconnectCode, ErrorCode } from "../../src/gen/realtime/v1/types.js";

export const ERROR_CODES: ReadonlySet<number> = new Set(Object.values(ErrorCode).filter((v): v is number => typeof v === "number" && v > 0));
export const DISCONNECT_CODES: ReadonlySet<number> = new Set(Object.values(DisconnectCode).filter((v): v is number => typeof v === "number" && v > 0));

/**
 * The status of an HTTP answer carrying `code`: the hub's own mapping (src/transport/http-error.ts),
 * so the fuzz checks that every answer follows it, temporary errors 503 whatever their code.
 */
export function expectedHttpStatus(code: number, temporary: boolean): number {
  return httpStatus({ code, temporary });
}

/** Statuses HTTP itself has for a request it refuses, with the code the body carries. */
export const HTTP_OWN_STATUS: Readonly<Record<number, number>> = {
  405: ErrorCode.ERROR_CODE_BAD_REQUEST,
  408: ErrorCode.ERROR_CODE_LIMIT_EXCEEDED,
  413: ErrorCode.ERROR_CODE_LIMIT_EXCEEDED,
  415: ErrorCode.ERROR_CODE_BAD_REQUEST,
  431: ErrorCode.ERROR_CODE_LIMIT_EXCEEDED,
};
