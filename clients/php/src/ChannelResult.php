<?php

declare(strict_types=1);

namespace RealtimeHub\Client;

use RealtimeHub\Client\Exception\HubException;

/** The outcome of a broadcast in one channel: its place in the stream, or the error. */
final class ChannelResult
{
    public function __construct(
        public readonly string $channel,
        public readonly int $offset,
        public readonly string $epoch,
        /** Set when publishing into this channel failed; the other channels are unaffected. */
        public readonly ?HubException $error,
    ) {
    }
}
