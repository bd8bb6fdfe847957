<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Security;

use RealtimeHub\Bundle\Event\DecisionEvent;
use RealtimeHub\Bundle\Event\PublishEvent;
use RealtimeHub\Bundle\Event\SubscribeEvent;

/**
 * What a Voter gets for RealtimePermission::SUBSCRIBE and ::PUBLISH. $userId is the hub's
 * user of the connection (authenticated by a token or the connect webhook); the voter's
 * $token is the Symfony user of the session the hub forwarded, if any.
 */
final class ChannelSubject
{
    public function __construct(
        /** The channel, e.g. "user:42". */
        public readonly string $channel,
        /** The part before the first ':' ("user"), '' without one. */
        public readonly string $namespace,
        /** The connection's user ('' anonymous). */
        public readonly string $userId,
        /** The connection's id. */
        public readonly string $clientId,
        /** The publication, decoded (PUBLISH only; null for SUBSCRIBE and for data that is not JSON). */
        public readonly mixed $data,
        /** The event itself, for the rest of the context (transport, headers, token...). */
        public readonly DecisionEvent $event,
    ) {
    }

    public static function fromEvent(SubscribeEvent|PublishEvent $event): self
    {
        return new self(
            $event->getChannel(),
            $event->getNamespace(),
            $event->getUserId(),
            $event->getClientId(),
            $event instanceof PublishEvent ? $event->getData() : null,
            $event,
        );
    }
}
