<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Messenger;

use RealtimeHub\Client\BroadcastResult;
use RealtimeHub\Client\ChannelResult;
use RealtimeHub\Client\Exception\HubException;
use RealtimeHub\Client\HubClientInterface;
use RealtimeHub\Client\PublishResult;
use Symfony\Component\Messenger\Exception\UnrecoverableMessageHandlingException;

/**
 * Sends Publish and Broadcast messages with the message's own idempotency key, so a retry is
 * never delivered twice.
 *
 * What Messenger does next depends on the hub's answer: a temporary error (the hub is
 * restarting, a store is down, the network failed) is thrown as it is, and Messenger retries
 * the message by its retry strategy; a permanent one (a bad channel name, a refused API key)
 * becomes an UnrecoverableMessageHandlingException, since the same message would fail again:
 * no retry, straight to the failure transport.
 */
final class PublishHandler
{
    public function __construct(private readonly HubClientInterface $hub)
    {
    }

    public function publish(Publish $message): PublishResult
    {
        try {
            return $this->hub->publish($message->channel, $message->data, $message->idempotencyKey, $message->skipHistory, $message->tags);
        } catch (HubException $e) {
            throw self::classify($e, sprintf('publishing into "%s"', $message->channel));
        }
    }

    /**
     * A failure in some channels is in the BroadcastResult, not thrown by the client: any
     * temporary one makes the whole message retried (the channels that succeeded dedupe it by
     * key); only permanent ones make it unrecoverable.
     */
    public function broadcast(Broadcast $message): BroadcastResult
    {
        try {
            $result = $this->hub->broadcast($message->channels, $message->data, $message->idempotencyKey, $message->skipHistory, $message->tags);
        } catch (HubException $e) {
            throw self::classify($e, sprintf('broadcasting into %d channels', \count($message->channels)));
        }
        $failed = $result->failed();
        if ($failed === []) {
            return $result;
        }
        foreach ($failed as $r) {
            if ($r->error?->isTemporary()) {
                throw $r->error;
            }
        }
        $first = $failed[0]->error;
        throw new UnrecoverableMessageHandlingException(sprintf(
            'broadcasting: the hub refused %d of %d channels (%s): %s (code %d)',
            \count($failed),
            \count($message->channels),
            implode(', ', array_map(static fn (ChannelResult $r) => $r->channel, $failed)),
            $first?->getMessage() ?? '',
            $first?->getHubCode() ?? 0,
        ), 0, $first);
    }

    /** Temporary: the same exception (Messenger retries). Permanent: unrecoverable, the hub's error kept as previous. */
    private static function classify(HubException $e, string $what): \Throwable
    {
        if ($e->isTemporary()) {
            return $e;
        }
        return new UnrecoverableMessageHandlingException(sprintf('%s: the hub refused it for good: %s (code %d)', $what, $e->getMessage(), $e->getHubCode()), 0, $e);
    }
}
