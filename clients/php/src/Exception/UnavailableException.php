<?php

declare(strict_types=1);

namespace RealtimeHub\Client\Exception;

/** A temporary error: the hub is shutting down or full, or a store or broker is down. Retrying the same call later may succeed (publish and broadcast keep their idempotency key, so a retry is safe). */
class UnavailableException extends HubException
{
}
