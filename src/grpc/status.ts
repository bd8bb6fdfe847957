import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { ErrorCode } from "../gen/realtime/v1/types.js";
import { toHubError } from "../errors.js";

/** Trailing metadata key that carries our ErrorCode (decimal) next to the gRPC status. */
export const ERROR_CODE_METADATA = "realtime-error-code";

/**
 * Our error codes -> gRPC status codes, once for the whole server API. The switch is
 * exhaustive: a code added to types.proto does not compile until it is mapped here.
 */
function grpcCode(code: ErrorCode, temporary: boolean): status {
  switch (code) {
    // The request itself is wrong (channel name, missing field, bad limit): fix it, do not retry.
    case ErrorCode.ERROR_CODE_BAD_REQUEST:
      return status.INVALID_ARGUMENT;
    // Client-protocol errors that name a bad argument (a channel the caller is not in, a
    // position that cannot be recovered); not raised by HubService, mapped for completeness.
    case ErrorCode.ERROR_CODE_NOT_SUBSCRIBED:
    case ErrorCode.ERROR_CODE_UNRECOVERABLE_POSITION:
      return status.INVALID_ARGUMENT;
    // The channel's namespace is not in this hub's config. NOT_FOUND rather than
    // INVALID_ARGUMENT: the name is well-formed, the thing it names does not exist here (the
    // same request can succeed against a hub configured with that namespace).
    case ErrorCode.ERROR_CODE_UNKNOWN_CHANNEL:
      return status.NOT_FOUND;
    // Something named in the request (a user, a client) does not exist.
    case ErrorCode.ERROR_CODE_NOT_FOUND:
      return status.NOT_FOUND;
    // Credentials missing, wrong or expired: the caller is not identified.
    case ErrorCode.ERROR_CODE_UNAUTHORIZED:
    case ErrorCode.ERROR_CODE_TOKEN_EXPIRED:
      return status.UNAUTHENTICATED;
    // Identified, but not allowed: same meaning on both sides.
    case ErrorCode.ERROR_CODE_PERMISSION_DENIED:
      return status.PERMISSION_DENIED;
    // A quota or rate: retry later or send less; RESOURCE_EXHAUSTED is gRPC's name for both.
    case ErrorCode.ERROR_CODE_LIMIT_EXCEEDED:
    case ErrorCode.ERROR_CODE_TOO_MANY_REQUESTS:
      return status.RESOURCE_EXHAUSTED;
    // The feature (presence, history) is off for that channel's namespace. FAILED_PRECONDITION,
    // not UNAVAILABLE: UNAVAILABLE tells gRPC clients to retry, which cannot help until the
    // config changes. A temporarily missing feature is raised as a temporary INTERNAL instead.
    case ErrorCode.ERROR_CODE_NOT_AVAILABLE:
      return temporary ? status.UNAVAILABLE : status.FAILED_PRECONDITION;
    case ErrorCode.ERROR_CODE_ALREADY_SUBSCRIBED:
      return status.ALREADY_EXISTS;
    case ErrorCode.ERROR_CODE_METHOD_NOT_FOUND:
      return status.UNIMPLEMENTED;
    // Temporary internal errors (a store or broker down, see redis/connection.ts) are
    // UNAVAILABLE, the code gRPC clients retry on; other internal errors are bugs: INTERNAL.
    case ErrorCode.ERROR_CODE_INTERNAL:
    case ErrorCode.ERROR_CODE_UNSPECIFIED:
    case ErrorCode.UNRECOGNIZED:
      return temporary ? status.UNAVAILABLE : status.INTERNAL;
    default: {
      const unmapped: never = code;
      return unmapped;
    }
  }
}

/**
 * Anything thrown by the server API -> a gRPC error: the mapped status, our message, and our
 * numeric code in trailing metadata `realtime-error-code`. Errors that are not HubErrors
 * (bugs, unexpected library failures) become INTERNAL "internal error": logged here with their
 * cause, never sent to the caller, since their messages may hold internals.
 */
export function toServiceError(err: unknown, log: Logger): Partial<ServiceError> {
  const e = toHubError(err);
  if (e.code === ErrorCode.ERROR_CODE_INTERNAL)
    log[e.temporary ? "warn" : "error"]({ err }, "gRPC server API call failed");
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_METADATA, String(e.code));
  return { code: grpcCode(e.code, e.temporary), details: e.message, metadata };
}
