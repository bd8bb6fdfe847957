<?php

declare(strict_types=1);

namespace RealtimeHub\Client;

/** Where a publication landed in its channel's stream. */
final class PublishResult
{
    public function __construct(
        /** Position in the channel's stream; 0 when the channel keeps no history. */
        public readonly int $offset,
        /** One life of the channel's stream: offsets compare only within one epoch. */
        public readonly string $epoch,
        /** The idempotency key the call was sent with (yours, or the one generated). */
        public readonly string $idempotencyKey,
    ) {
    }
}
