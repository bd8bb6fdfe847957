<?php

declare(strict_types=1);

namespace RealtimeHub\Client;

use Realtime\V1\ChannelsResponse;
use Realtime\V1\ClientInfo;
use Realtime\V1\HistoryResponse;
use Realtime\V1\InfoResponse;
use Realtime\V1\SubscribeResponse;
use RealtimeHub\Client\Exception\HubException;

/**
 * The hub's server API (realtime.v1.HubService, unary methods). Every method throws a
 * HubException (or a subclass naming the kind: BadRequestException, UnauthorizedException,
 * ...) when the hub refuses the call or cannot be reached.
 *
 * `$data` is the payload: a string is sent as it is (bytes; it must be JSON text when browsers
 * speak the JSON protocol), anything else is sent as its json_encode().
 */
interface HubClientInterface
{
    /**
     * Publishes into one channel. A repeat of the same $idempotencyKey within the hub's window
     * (5 minutes) returns the first result and is not delivered again; without one, a random
     * key is made for this call, so its retries are safe.
     *
     * @param array<string, string> $tags
     * @throws HubException
     */
    public function publish(string $channel, mixed $data, ?string $idempotencyKey = null, bool $skipHistory = false, array $tags = []): PublishResult;

    /**
     * Publishes one payload into many channels (at most 1000); a failure in one channel is in
     * its ChannelResult, not thrown.
     *
     * @param list<string> $channels
     * @param array<string, string> $tags
     * @throws HubException
     */
    public function broadcast(array $channels, mixed $data, ?string $idempotencyKey = null, bool $skipHistory = false, array $tags = []): BroadcastResult;

    /**
     * Who is in a channel now (its namespace must have presence on).
     *
     * @return array<string, ClientInfo> keyed by client id
     * @throws HubException
     */
    public function presence(string $channel): array;

    /** @throws HubException */
    public function presenceStats(string $channel): PresenceStats;

    /**
     * The publications a channel keeps: at most $limit (0: none, only the stream's top), after
     * the position ($sinceOffset, $sinceEpoch) when given, newest first when $reverse.
     *
     * @throws HubException
     */
    public function history(string $channel, int $limit = 0, ?int $sinceOffset = null, string $sinceEpoch = '', bool $reverse = false): HistoryResponse;

    /** Forgets a channel's history. @throws HubException */
    public function historyRemove(string $channel): void;

    /**
     * Channels with subscribers on any node, matching $pattern (`*` any run of characters; "" all).
     *
     * @throws HubException
     */
    public function channels(string $pattern = ''): ChannelsResponse;

    /** The nodes of the cluster and their figures. @throws HubException */
    public function info(): InfoResponse;

    /**
     * Disconnects a user's connections (all, or the one $client). $code: a DisconnectCode,
     * 0 for DISCONNECT_CODE_FORCE_NO_RECONNECT.
     *
     * @throws HubException
     */
    public function disconnect(string $user, string $client = '', int $code = 0, string $reason = ''): void;

    /** Unsubscribes a user's connections (all, or the one $client) from a channel. @throws HubException */
    public function unsubscribe(string $user, string $channel, string $client = ''): void;

    /**
     * Erases a user's data before it expires (the GDPR path): their publications from the
     * history of every channel and their presence entries, on every node and in every store.
     * With $disconnect (the default) their connections are closed first, without reconnecting.
     * Safe to repeat; repeat until the result is complete().
     *
     * @throws HubException (a BadRequestException for an empty $user)
     */
    public function eraseUser(string $user, bool $disconnect = true): EraseUserResult;

    /**
     * Consumes what happens in channels (HubService.Subscribe), for long-running CLI workers:
     * publications (browsers' ones carry getInfo()), and joins and leaves with $joinLeave.
     * Blocks until $onEvent returns false, $maxSeconds pass (0: no limit), or the hub ends the
     * stream (an error is thrown: a consumer that fell behind gets a LimitExceededException, a
     * hub shutting down an UnavailableException; subscribe again and read history() to catch
     * up). $onReady is called once the subscription is in place. $shouldStop is asked about
     * once a second while the stream is open, even when nothing arrives, and true ends it as
     * $onEvent returning false does: a worker's signal handler sets a flag, and the worker
     * stops within a second although no event comes. Needs the gRPC transport.
     *
     * @param list<string> $channels
     * @param callable(SubscribeResponse): (bool|null) $onEvent
     * @param (callable(): void)|null $onReady
     * @param (callable(): bool)|null $shouldStop
     * @throws HubException
     */
    public function subscribe(array $channels, callable $onEvent, bool $clientPublicationsOnly = false, bool $joinLeave = false, ?callable $onReady = null, float $maxSeconds = 0, ?callable $shouldStop = null): void;
}
