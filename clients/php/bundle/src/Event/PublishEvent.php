<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Event;

use Realtime\V1\PublishProxyRequest;
use Realtime\V1\PublishProxyResult;

/**
 * A client publishes (proxyPublishUrl, or its namespace's publishProxy): accept, rewrite or refuse.
 *
 * No listener decides: with Symfony Security, isGranted(RealtimePermission::PUBLISH,
 * ChannelSubject) (an app's Voter decides); without it, denied with 103.
 */
final class PublishEvent extends DecisionEvent
{
    private string $newData = '';
    private bool $skipHistory = false;
    /** @var array<string, string> */
    private array $tags = [];
    private string $idempotencyKey = '';

    public function getChannel(): string
    {
        return $this->request()->getChannel();
    }

    public function getNamespace(): string
    {
        return self::namespaceOf($this->getChannel());
    }

    /** The publication, decoded (arrays for objects); null when it is not JSON (see getRawData()). */
    public function getData(): mixed
    {
        return self::decodeJson($this->request()->getData());
    }

    public function getRawData(): string
    {
        return $this->request()->getData();
    }

    /**
     * Lets the publication through. $data (not null) replaces what subscribers get;
     * $skipHistory: delivered but not kept; $idempotencyKey: a repeat within the hub's window
     * is not delivered again.
     *
     * @param array<string, string> $tags
     */
    public function allow(mixed $data = null, bool $skipHistory = false, array $tags = [], string $idempotencyKey = ''): void
    {
        $this->newData = $data === null ? '' : self::encodeJson($data);
        $this->skipHistory = $skipHistory;
        $this->tags = $tags;
        $this->idempotencyKey = $idempotencyKey;
        $this->markAllowed();
    }

    public function toResult(): PublishProxyResult
    {
        $result = (new PublishProxyResult())->setData($this->newData)->setSkipHistory($this->skipHistory)->setIdempotencyKey($this->idempotencyKey);
        foreach ($this->tags as $k => $v) {
            $result->getTags()[(string) $k] = (string) $v;
        }

        return $result;
    }

    private function request(): PublishProxyRequest
    {
        /** @var PublishProxyRequest */
        return $this->getCall();
    }
}
