<?php

declare(strict_types=1);

namespace RealtimeHub\Client;

/** The outcome of a broadcast, one entry per channel, in the order the channels were given. */
final class BroadcastResult
{
    /** @param list<ChannelResult> $channels */
    public function __construct(
        public readonly array $channels,
        /** The key the call was sent with; channel X used `idempotencyKey` + X. */
        public readonly string $idempotencyKey,
    ) {
    }

    /** @return list<ChannelResult> the channels where publishing failed */
    public function failed(): array
    {
        return array_values(array_filter($this->channels, static fn (ChannelResult $r) => $r->error !== null));
    }
}
