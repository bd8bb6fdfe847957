/**
 * Why a call to the backend got no usable answer. The proxy turns it into the error the
 * client sees: the backend's 401/403 refuse like an `error` answer would, anything else is
 * a temporary outage of that one operation.
 */
export type FailureReason = "timeout" | "unreachable" | "status" | "invalid" | "too_large" | "unauthenticated" | "forbidden";

export class CallFailure extends Error {
  constructor(
    readonly reason: FailureReason,
    message: string,
    /** False when the request surely never reached the backend, so sending it again is safe. */
    readonly maybeDelivered = true,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "CallFailure";
  }
}
