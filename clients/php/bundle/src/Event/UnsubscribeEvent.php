<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Event;

use Realtime\V1\NotifyUnsubscribeRequest;

/** A client left a channel and stays connected (proxyUnsubscribeUrl). At least once: dedupe by getEventId(). */
final class UnsubscribeEvent extends NotificationEvent
{
    public function getChannel(): string
    {
        /** @var NotifyUnsubscribeRequest $call */
        $call = $this->getCall();

        return $call->getChannel();
    }

    public function getNamespace(): string
    {
        return self::namespaceOf($this->getChannel());
    }
}
