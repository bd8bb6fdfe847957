<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Consumer;

/** A client left a channel, or its connection closed (realtime:consume --join-leave). */
final class ClientLeftEvent extends PresenceReceivedEvent
{
}
