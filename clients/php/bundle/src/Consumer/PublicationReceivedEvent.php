<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Consumer;

use Realtime\V1\Publication;

/**
 * A publication `bin/console realtime:consume` received: dispatched as a Symfony event
 * (#[AsEventListener] on a method taking it), or with --messenger as a Messenger message
 * (#[AsMessageHandler]). A plain, serializable object either way.
 */
final class PublicationReceivedEvent
{
    /** @param array<string, string> $tags */
    public function __construct(
        public readonly string $channel,
        /** The payload's bytes (JSON text when browsers published it); json() decodes it. */
        public readonly string $data,
        /** Position in the channel's stream; 0 when the channel keeps no history. */
        public readonly int $offset,
        public readonly string $epoch,
        public readonly array $tags,
        /** Who published it: a browser's user and client id; "" both when a backend did. */
        public readonly string $user,
        public readonly string $client,
        /** When the hub accepted it, in milliseconds since the Unix epoch. */
        public readonly int $time,
    ) {
    }

    public static function fromPublication(string $channel, Publication $p): self
    {
        $info = $p->getInfo();
        return new self(
            $channel,
            $p->getData(),
            (int) $p->getOffset(),
            $p->getEpoch(),
            iterator_to_array($p->getTags()),
            $info?->getUser() ?? '',
            $info?->getClient() ?? '',
            (int) $p->getTime(),
        );
    }

    /** The payload decoded as JSON (arrays for objects). @throws \JsonException when it is not JSON */
    public function json(): mixed
    {
        return json_decode($this->data, true, 512, \JSON_THROW_ON_ERROR);
    }

    /** Whether a browser published it (a backend's publications have no client). */
    public function isFromClient(): bool
    {
        return $this->client !== '';
    }
}
