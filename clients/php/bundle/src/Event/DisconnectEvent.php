<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Event;

use Realtime\V1\NotifyDisconnectRequest;

/** A connection closed (proxyDisconnectUrl). At least once: dedupe by getEventId(). */
final class DisconnectEvent extends NotificationEvent
{
    /** @return list<string> the channels it was subscribed to (no UnsubscribeEvent follows for them) */
    public function getChannels(): array
    {
        /** @var NotifyDisconnectRequest $call */
        $call = $this->getCall();

        return array_values(iterator_to_array($call->getChannels()));
    }
}
