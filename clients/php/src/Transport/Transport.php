<?php

declare(strict_types=1);

namespace RealtimeHub\Client\Transport;

use Google\Protobuf\Internal\Message;
use RealtimeHub\Client\Exception\HubException;

/**
 * How HubClient reaches the hub: one unary call of realtime.v1.HubService.
 *
 * An implementation sends the request once (HubClient retries), authenticates with the API key
 * it was given, and either returns the decoded response or throws a HubException: the hub's
 * own error with its code and temporary flag, or a TransportException when no hub answer came.
 */
interface Transport
{
    /**
     * @template T of Message
     * @param string $method the method as hub.proto names it ("Publish", "PresenceStats", ...)
     * @param class-string<T> $responseClass
     * @return T
     * @throws HubException
     */
    public function call(string $method, Message $request, string $responseClass): Message;
}
