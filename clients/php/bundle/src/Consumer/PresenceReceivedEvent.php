<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Consumer;

use Realtime\V1\ClientInfo;

/**
 * A client joined or left a channel (`realtime:consume --join-leave`): ClientJoinedEvent or
 * ClientLeftEvent, dispatched like PublicationReceivedEvent.
 */
abstract class PresenceReceivedEvent
{
    final public function __construct(
        public readonly string $channel,
        public readonly string $user,
        public readonly string $client,
        /** The connection's info (the connection token's `info`), as JSON bytes; "" when none. */
        public readonly string $connInfo,
        /** The subscription's info (the subscription token's `info`); "" when none. */
        public readonly string $chanInfo,
    ) {
    }

    public static function fromClientInfo(string $channel, ?ClientInfo $info): static
    {
        return new static($channel, $info?->getUser() ?? '', $info?->getClient() ?? '', $info?->getConnInfo() ?? '', $info?->getChanInfo() ?? '');
    }
}
