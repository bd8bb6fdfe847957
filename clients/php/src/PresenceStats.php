<?php

declare(strict_types=1);

namespace RealtimeHub\Client;

/** How many clients and unique users are in a channel now. */
final class PresenceStats
{
    public function __construct(
        public readonly int $numClients,
        public readonly int $numUsers,
    ) {
    }
}
