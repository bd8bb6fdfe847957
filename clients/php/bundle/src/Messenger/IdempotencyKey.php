<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Messenger;

/** @internal */
final class IdempotencyKey
{
    /** 128 random bits, as the client makes them for a call without a key. */
    public static function generate(): string
    {
        return bin2hex(random_bytes(16));
    }
}
