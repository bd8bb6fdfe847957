<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Test;

/** One publication RecordingHubClient received (by publish(), or one channel of a broadcast()). */
final class RecordedPublication
{
    /**
     * @param mixed $data what the caller passed
     * @param string $payload the bytes the hub would have got (a string as it is, anything else as JSON)
     * @param array<string, string> $tags
     */
    public function __construct(
        public readonly string $channel,
        public readonly mixed $data,
        public readonly string $payload,
        public readonly string $idempotencyKey,
        public readonly bool $skipHistory,
        public readonly array $tags,
        public readonly int $offset,
        public readonly string $epoch,
        public readonly bool $fromBroadcast,
    ) {
    }

    /** The payload decoded as JSON (arrays for objects); null when it is not JSON. */
    public function json(): mixed
    {
        return json_decode($this->payload, true);
    }
}
