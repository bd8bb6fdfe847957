<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Messenger;

/**
 * One payload into many channels (at most 1000), sent later by PublishHandler. Like Publish, its
 * idempotency key is made when the message is created; the hub extends it per channel, so a
 * retry after a partial failure delivers only into the channels that missed it.
 */
final class Broadcast
{
    public readonly string $idempotencyKey;

    /**
     * @param list<string> $channels
     * @param mixed $data a string is sent as it is (JSON text for browsers), anything else as its json_encode()
     * @param array<string, string> $tags
     */
    public function __construct(
        public readonly array $channels,
        public readonly mixed $data,
        public readonly array $tags = [],
        public readonly bool $skipHistory = false,
        ?string $idempotencyKey = null,
    ) {
        $this->idempotencyKey = $idempotencyKey ?? IdempotencyKey::generate();
    }
}
