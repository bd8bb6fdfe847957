<?php

declare(strict_types=1);

namespace App\Consumer;

use RealtimeHub\Bundle\Consumer\ClientJoinedEvent;
use RealtimeHub\Bundle\Consumer\ClientLeftEvent;
use RealtimeHub\Bundle\Consumer\PublicationReceivedEvent;
use Symfony\Component\EventDispatcher\Attribute\AsEventListener;

/**
 * What `bin/console realtime:consume` dispatched, as a Symfony event or (--messenger, through
 * ConsumedMessageHandler) a message handled at once: one JSON line each in $APP_CACHE_DIR/consumed.jsonl, for
 * test/php/symfony-bundle-commands.test.ts. A publication {"sleep": n} keeps its listener busy
 * n seconds (a stop signal must wait for it); {"fail": true} makes the listener throw.
 */
final class ConsumedEventRecorder
{
    #[AsEventListener]
    public function onPublication(PublicationReceivedEvent $event): void
    {
        $this->record('event', $event);
    }

    #[AsEventListener]
    public function onJoin(ClientJoinedEvent $event): void
    {
        $this->record('event', $event);
    }

    #[AsEventListener]
    public function onLeave(ClientLeftEvent $event): void
    {
        $this->record('event', $event);
    }

    public function record(string $via, PublicationReceivedEvent|ClientJoinedEvent|ClientLeftEvent $event): void
    {
        $data = $event instanceof PublicationReceivedEvent ? json_decode($event->data, true) : null;
        if (\is_array($data) && isset($data['fail'])) {
            throw new \RuntimeException('the listener failed, as asked');
        }
        if (\is_array($data) && isset($data['sleep'])) {
            file_put_contents($this->file(), json_encode(['via' => $via, 'kind' => 'sleeping', 'channel' => $event->channel]) . "\n", \FILE_APPEND | \LOCK_EX);
            usleep((int) ($data['sleep'] * 1e6));
        }
        $line = ['via' => $via, 'kind' => (new \ReflectionClass($event))->getShortName(), 'channel' => $event->channel, 'user' => $event->user, 'client' => $event->client];
        if ($event instanceof PublicationReceivedEvent) {
            $line += ['data' => $data, 'offset' => $event->offset, 'tags' => $event->tags];
        }
        file_put_contents($this->file(), json_encode($line, \JSON_UNESCAPED_SLASHES) . "\n", \FILE_APPEND | \LOCK_EX);
    }

    private function file(): string
    {
        return (getenv('APP_CACHE_DIR') ?: sys_get_temp_dir()) . '/consumed.jsonl';
    }
}
