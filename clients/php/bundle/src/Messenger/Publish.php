<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Messenger;

/**
 * A publication to send later: `$bus->dispatch(new Publish('news', ['title' => 'Hi']))`, routed
 * to an async transport in config/packages/messenger.yaml, published by PublishHandler.
 *
 * The idempotency key is made here, when the message is created, and travels with it: however
 * often Messenger retries or redelivers it, the hub delivers it once (within the hub's window of
 * 5 minutes: keep retry delays below that).
 */
final class Publish
{
    public readonly string $idempotencyKey;

    /**
     * @param mixed $data a string is sent as it is (JSON text for browsers), anything else as its json_encode()
     * @param array<string, string> $tags
     */
    public function __construct(
        public readonly string $channel,
        public readonly mixed $data,
        public readonly array $tags = [],
        public readonly bool $skipHistory = false,
        ?string $idempotencyKey = null,
    ) {
        $this->idempotencyKey = $idempotencyKey ?? IdempotencyKey::generate();
    }
}
