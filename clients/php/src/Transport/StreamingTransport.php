<?php

declare(strict_types=1);

namespace RealtimeHub\Client\Transport;

use Google\Protobuf\Internal\Message;
use RealtimeHub\Client\Exception\HubException;

/**
 * A transport that can also call server-streaming methods (HubService.Subscribe); only gRPC can.
 *
 * An implementation hands each response to $onMessage in the order the hub sent them, as they
 * arrive, and calls $onReady once when the hub has accepted the call (its response headers: for
 * Subscribe, the subscription is in place). It returns when the hub ends the stream with OK,
 * when $onMessage returns false, when $shouldStop (asked about once a second, also while
 * nothing arrives) returns true, or when $maxSeconds have passed; it throws a HubException when
 * the hub ends the stream with an error or the connection fails.
 */
interface StreamingTransport
{
    /**
     * @template T of Message
     * @param class-string<T> $responseClass
     * @param callable(T): (bool|null) $onMessage return false to end the call
     * @param (callable(): void)|null $onReady
     * @param float $maxSeconds 0: no limit
     * @param (callable(): bool)|null $shouldStop
     * @throws HubException
     */
    public function serverStream(string $method, Message $request, string $responseClass, callable $onMessage, ?callable $onReady = null, float $maxSeconds = 0, ?callable $shouldStop = null): void;
}
