<?php

declare(strict_types=1);

namespace App\Realtime;

use RealtimeHub\Bundle\Event\DisconnectEvent;
use RealtimeHub\Bundle\Event\UnsubscribeEvent;
use Symfony\Component\EventDispatcher\Attribute\AsEventListener;

/** Writes each disconnect and unsubscribe notification once (by event id: they come at least once) as a JSON line. */
final class NotificationRecorder
{
    public function __construct(private string $file)
    {
    }

    #[AsEventListener]
    public function onDisconnect(DisconnectEvent $event): void
    {
        $this->record($event->getEventId(), ['kind' => 'disconnect', 'user' => $event->getUserId(), 'client' => $event->getClientId(), 'code' => $event->getCode(), 'reason' => $event->getReason(), 'channels' => $event->getChannels()]);
    }

    #[AsEventListener]
    public function onUnsubscribe(UnsubscribeEvent $event): void
    {
        $this->record($event->getEventId(), ['kind' => 'unsubscribe', 'user' => $event->getUserId(), 'channel' => $event->getChannel(), 'code' => $event->getCode()]);
    }

    /** @param array<string, mixed> $line */
    private function record(string $eventId, array $line): void
    {
        $seen = is_file($this->file) ? file_get_contents($this->file) : '';
        if ($eventId !== '' && str_contains($seen, json_encode($eventId))) {
            return;
        }
        file_put_contents($this->file, json_encode(['eventId' => $eventId] + $line) . "\n", \FILE_APPEND | \LOCK_EX);
    }
}
