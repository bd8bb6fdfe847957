<?php

declare(strict_types=1);

namespace App\Service;

use RealtimeHub\Bundle\Messenger\Broadcast;
use RealtimeHub\Bundle\Messenger\Publish;
use Symfony\Component\EventDispatcher\Attribute\AsEventListener;
use Symfony\Component\Messenger\Event\WorkerMessageFailedEvent;
use Symfony\Component\Messenger\Event\WorkerMessageHandledEvent;
use Symfony\Component\Messenger\Exception\HandlerFailedException;
use Symfony\Component\Messenger\Stamp\RedeliveryStamp;

/**
 * What `messenger:consume` did with each Publish/Broadcast (handled, or failed and whether it
 * will be retried), one JSON line in $APP_CACHE_DIR/messenger-events.jsonl, for
 * test/php/symfony-bundle-messenger.test.ts.
 */
final class MessengerWorkerRecorder
{
    #[AsEventListener]
    public function onHandled(WorkerMessageHandledEvent $event): void
    {
        $this->record('handled', $event->getEnvelope()->getMessage(), $event->getEnvelope()->last(RedeliveryStamp::class)?->getRetryCount() ?? 0, null, false);
    }

    #[AsEventListener]
    public function onFailed(WorkerMessageFailedEvent $event): void
    {
        $e = $event->getThrowable();
        if ($e instanceof HandlerFailedException) {
            $e = $e->getNestedExceptions()[0] ?? $e;
        }
        $this->record('failed', $event->getEnvelope()->getMessage(), $event->getEnvelope()->last(RedeliveryStamp::class)?->getRetryCount() ?? 0, $e, $event->willRetry());
    }

    private function record(string $what, object $message, int $retryCount, ?\Throwable $e, bool $willRetry): void
    {
        if (!$message instanceof Publish && !$message instanceof Broadcast) {
            return;
        }
        $file = (getenv('APP_CACHE_DIR') ?: sys_get_temp_dir()) . '/messenger-events.jsonl';
        file_put_contents($file, json_encode([
            'event' => $what,
            'channel' => $message instanceof Publish ? $message->channel : implode(',', $message->channels),
            'idempotencyKey' => $message->idempotencyKey,
            'retryCount' => $retryCount,
            'willRetry' => $willRetry,
            'exception' => $e === null ? null : $e::class,
            'previous' => $e?->getPrevious() === null ? null : $e->getPrevious()::class,
            'message' => $e?->getMessage(),
        ], \JSON_UNESCAPED_SLASHES) . "\n", \FILE_APPEND | \LOCK_EX);
    }
}
