<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Event;

/**
 * Something happened; nothing waits for a decision. Delivered at least once: the hub sends
 * it again (with the same event id) until the app answers 2xx or proxyNotifyRetrySeconds
 * pass, so a listener that throws gets it again, and listeners dedupe by getEventId().
 */
abstract class NotificationEvent extends WebhookEvent
{
    /** Unique per event; a retried notification carries the same id. */
    public function getEventId(): string
    {
        return $this->getCall()->getEventId();
    }

    /** The code: DisconnectCode / UnsubscribeCode, or the app's own from a disconnect(). */
    public function getCode(): int
    {
        return $this->getCall()->getCode();
    }

    public function getReason(): string
    {
        return $this->getCall()->getReason();
    }

    /** When it happened, milliseconds since the Unix epoch. */
    public function getTimeMs(): int
    {
        return (int) $this->getCall()->getTime();
    }
}
