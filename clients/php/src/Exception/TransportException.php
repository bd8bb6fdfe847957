<?php

declare(strict_types=1);

namespace RealtimeHub\Client\Exception;

/**
 * The call did not get a hub answer: the connection failed or timed out, TLS failed, or the
 * answer was not the hub's (a proxy's HTML page). getCode() is 0 (no hub code);
 * isTemporary() is true for network failures and timeouts, false for TLS and protocol errors.
 * A timed-out publish may have been delivered: retry with the same idempotency key.
 */
class TransportException extends HubException
{
    public static function network(string $message, bool $temporary, ?\Throwable $previous = null, ?int $httpStatus = null): self
    {
        return new self(0, $message, $temporary, $httpStatus, null, $previous);
    }
}
