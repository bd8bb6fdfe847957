<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Consumer;

/** A client subscribed to a channel (realtime:consume --join-leave). */
final class ClientJoinedEvent extends PresenceReceivedEvent
{
}
