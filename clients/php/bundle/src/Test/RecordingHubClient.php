<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Test;

use Realtime\V1\ChannelInfo;
use Realtime\V1\ChannelsResponse;
use Realtime\V1\ClientInfo;
use Realtime\V1\HistoryResponse;
use Realtime\V1\InfoResponse;
use Realtime\V1\NodeInfo;
use Realtime\V1\Publication;
use Realtime\V1\SubscribeResponse;
use RealtimeHub\Client\BroadcastResult;
use RealtimeHub\Client\ChannelResult;
use RealtimeHub\Client\Exception\BadRequestException;
use RealtimeHub\Client\EraseUserResult;
use RealtimeHub\Client\Exception\HubException;
use RealtimeHub\Client\HubClientInterface;
use RealtimeHub\Client\PresenceStats;
use RealtimeHub\Client\PublishResult;
use Symfony\Contracts\Service\ResetInterface;

/**
 * A HubClientInterface for an app's own tests: talks to no hub, records what the app asked for
 * and answers like a hub would. `realtime: { test: true }` (config/packages/test/realtime.yaml)
 * puts it in place of realtime.client; RealtimeAssertions reads it.
 *
 * It keeps the hub's promises that app code may rely on: offsets increase by one per channel
 * from 1 in one epoch ("recording"); a repeat of an idempotency key in a channel returns the
 * first result and is not recorded again; history() returns what was published; presence()
 * returns what setPresence() gave. failNext() makes the next call throw, for error paths.
 */
final class RecordingHubClient implements HubClientInterface, ResetInterface
{
    public const EPOCH = 'recording';

    /** @var list<RecordedPublication> */
    private array $publications = [];
    /** @var list<array{channels: list<string>, data: mixed, idempotencyKey: string, skipHistory: bool, tags: array<string, string>}> */
    private array $broadcasts = [];
    /** @var list<array{user: string, client: string, code: int, reason: string}> */
    private array $disconnects = [];
    /** @var list<array{user: string, channel: string, client: string}> */
    private array $unsubscribes = [];
    /** @var list<array{user: string, disconnect: bool}> */
    private array $erasures = [];
    /** @var array<string, int> */
    private array $tops = [];
    /** @var array<string, PublishResult> by channel and key */
    private array $byKey = [];
    /** @var array<string, array<string, ClientInfo>> */
    private array $presence = [];
    /** @var list<SubscribeResponse> */
    private array $events = [];
    /** @var list<HubException> */
    private array $failures = [];

    public function publish(string $channel, mixed $data, ?string $idempotencyKey = null, bool $skipHistory = false, array $tags = []): PublishResult
    {
        $this->maybeFail();
        return $this->record($channel, $data, $idempotencyKey ?? bin2hex(random_bytes(16)), $skipHistory, $tags, false);
    }

    public function broadcast(array $channels, mixed $data, ?string $idempotencyKey = null, bool $skipHistory = false, array $tags = []): BroadcastResult
    {
        $this->maybeFail();
        $key = $idempotencyKey ?? bin2hex(random_bytes(16));
        $this->broadcasts[] = ['channels' => array_values($channels), 'data' => $data, 'idempotencyKey' => $key, 'skipHistory' => $skipHistory, 'tags' => $tags];
        $results = [];
        foreach ($channels as $channel) {
            try {
                $r = $this->record($channel, $data, $key . $channel, $skipHistory, $tags, true);
                $results[] = new ChannelResult($channel, $r->offset, $r->epoch, null);
            } catch (HubException $e) {
                $results[] = new ChannelResult($channel, 0, '', $e);
            }
        }
        return new BroadcastResult($results, $key);
    }

    public function presence(string $channel): array
    {
        $this->maybeFail();
        return $this->presence[$channel] ?? [];
    }

    public function presenceStats(string $channel): PresenceStats
    {
        $this->maybeFail();
        $clients = $this->presence[$channel] ?? [];
        return new PresenceStats(\count($clients), \count(array_unique(array_map(static fn (ClientInfo $c) => $c->getUser(), $clients))));
    }

    public function history(string $channel, int $limit = 0, ?int $sinceOffset = null, string $sinceEpoch = '', bool $reverse = false): HistoryResponse
    {
        $this->maybeFail();
        $pubs = array_values(array_filter(
            $this->publications,
            static fn (RecordedPublication $p) => $p->channel === $channel && !$p->skipHistory && ($sinceOffset === null || $p->offset > $sinceOffset),
        ));
        if ($reverse) {
            $pubs = array_reverse($pubs);
        }
        $pubs = \array_slice($pubs, 0, $limit);
        return new HistoryResponse([
            'publications' => array_map(static fn (RecordedPublication $p) => new Publication(['data' => $p->payload, 'offset' => $p->offset, 'epoch' => $p->epoch, 'tags' => $p->tags]), $pubs),
            'offset' => $this->tops[$channel] ?? 0,
            'epoch' => self::EPOCH,
        ]);
    }

    public function historyRemove(string $channel): void
    {
        $this->maybeFail();
        $this->publications = array_values(array_filter($this->publications, static fn (RecordedPublication $p) => $p->channel !== $channel));
    }

    public function channels(string $pattern = ''): ChannelsResponse
    {
        $this->maybeFail();
        $re = '/^' . str_replace('\\*', '.*', preg_quote($pattern === '' ? '*' : $pattern, '/')) . '$/';
        $channels = [];
        foreach ($this->presence as $channel => $clients) {
            if ($clients !== [] && preg_match($re, $channel) === 1) {
                $channels[$channel] = new ChannelInfo(['num_clients' => \count($clients)]);
            }
        }
        return new ChannelsResponse(['channels' => $channels]);
    }

    public function info(): InfoResponse
    {
        $this->maybeFail();
        return new InfoResponse(['nodes' => [new NodeInfo(['id' => 'recording', 'version' => 'recording', 'broker' => 'memory', 'broker_healthy' => true, 'num_channels' => \count($this->tops)])]]);
    }

    public function disconnect(string $user, string $client = '', int $code = 0, string $reason = ''): void
    {
        $this->maybeFail();
        $this->disconnects[] = ['user' => $user, 'client' => $client, 'code' => $code, 'reason' => $reason];
    }

    public function unsubscribe(string $user, string $channel, string $client = ''): void
    {
        $this->maybeFail();
        $this->unsubscribes[] = ['user' => $user, 'channel' => $channel, 'client' => $client];
    }

    /**
     * Records the erasure and removes the user from what setPresence() gave, as the hub would;
     * publications made through the server API carry no user, so none is removed.
     */
    public function eraseUser(string $user, bool $disconnect = true): EraseUserResult
    {
        $this->maybeFail();
        if ($user === '') {
            throw new BadRequestException(HubException::BAD_REQUEST, 'user is required');
        }
        $this->erasures[] = ['user' => $user, 'disconnect' => $disconnect];
        $removed = 0;
        $channels = [];
        foreach ($this->presence as $channel => $clients) {
            foreach ($clients as $id => $info) {
                if ($info->getUser() === $user) {
                    unset($this->presence[$channel][$id]);
                    $channels[$channel] = ($channels[$channel] ?? 0) + 1;
                    ++$removed;
                }
            }
        }
        return new EraseUserResult(0, $removed, 0, [
            ['kind' => 'history', 'store' => 'memory', 'node' => 'recording', 'removed' => 0, 'channels' => [], 'channelsTruncated' => false],
            ['kind' => 'presence', 'store' => 'memory', 'node' => 'recording', 'removed' => $removed, 'channels' => $channels, 'channelsTruncated' => false],
        ], [['node' => 'recording', 'disconnected' => 0, 'error' => null]], []);
    }

    /** Hands the events given to pushEvent() for these channels to $onEvent, in order, then returns (as when $maxSeconds pass); $shouldStop is asked before each. */
    public function subscribe(array $channels, callable $onEvent, bool $clientPublicationsOnly = false, bool $joinLeave = false, ?callable $onReady = null, float $maxSeconds = 0, ?callable $shouldStop = null): void
    {
        $this->maybeFail();
        if ($onReady !== null) {
            $onReady();
        }
        while (($shouldStop === null || $shouldStop() !== true) && ($ev = array_shift($this->events)) !== null) {
            if (!\in_array($ev->getChannel(), $channels, true) || (!$joinLeave && $ev->getEvent() !== 'publication')) {
                continue;
            }
            if ($clientPublicationsOnly && $ev->getPublication()?->getInfo() === null) {
                continue;
            }
            if ($onEvent($ev) === false) {
                return;
            }
        }
    }

    // --- what the test sets up

    /** The next call (any method) throws $e; several calls queue several failures. */
    public function failNext(HubException $e): void
    {
        $this->failures[] = $e;
    }

    /** @param array<string, ClientInfo>|list<ClientInfo> $clients who presence() says is in $channel */
    public function setPresence(string $channel, array $clients): void
    {
        $byId = [];
        foreach ($clients as $c) {
            $byId[$c->getClient()] = $c;
        }
        $this->presence[$channel] = $byId;
    }

    /** An event subscribe() will deliver. */
    public function pushEvent(SubscribeResponse $event): void
    {
        $this->events[] = $event;
    }

    // --- what the test reads

    /** @return list<RecordedPublication> in the order they were made, of one channel or all */
    public function publications(?string $channel = null): array
    {
        return $channel === null ? $this->publications : array_values(array_filter($this->publications, static fn (RecordedPublication $p) => $p->channel === $channel));
    }

    /** @return list<array{channels: list<string>, data: mixed, idempotencyKey: string, skipHistory: bool, tags: array<string, string>}> */
    public function broadcasts(): array
    {
        return $this->broadcasts;
    }

    /** @return list<array{user: string, client: string, code: int, reason: string}> */
    public function disconnects(): array
    {
        return $this->disconnects;
    }

    /** @return list<array{user: string, channel: string, client: string}> */
    public function unsubscribes(): array
    {
        return $this->unsubscribes;
    }

    /** @return list<array{user: string, disconnect: bool}> what eraseUser() was asked, in order */
    public function erasures(): array
    {
        return $this->erasures;
    }

    /** Forgets everything (tagged kernel.reset: between two requests of one test client's kernel). */
    public function reset(): void
    {
        $this->publications = $this->broadcasts = $this->disconnects = $this->unsubscribes = $this->erasures = [];
        $this->tops = $this->byKey = $this->presence = [];
        $this->events = $this->failures = [];
    }

    /** @param array<string, string> $tags */
    private function record(string $channel, mixed $data, string $key, bool $skipHistory, array $tags, bool $fromBroadcast): PublishResult
    {
        // The hub's check, so a bad name fails in tests as it would in production.
        if ($channel === '' || \strlen($channel) > 255 || preg_match('~^[A-Za-z0-9_\-.:@=,;+!\~/]+$~', $channel) !== 1) {
            throw new BadRequestException(HubException::BAD_REQUEST, sprintf('invalid channel name "%s"', $channel));
        }
        if (isset($this->byKey[$channel . "\0" . $key])) {
            return $this->byKey[$channel . "\0" . $key];
        }
        $payload = \is_string($data) ? $data : json_encode($data, \JSON_THROW_ON_ERROR | \JSON_UNESCAPED_SLASHES | \JSON_UNESCAPED_UNICODE | \JSON_PRESERVE_ZERO_FRACTION);
        $offset = $this->tops[$channel] = ($this->tops[$channel] ?? 0) + 1;
        $this->publications[] = new RecordedPublication($channel, $data, $payload, $key, $skipHistory, $tags, $offset, self::EPOCH, $fromBroadcast);
        return $this->byKey[$channel . "\0" . $key] = new PublishResult($offset, self::EPOCH, $key);
    }

    private function maybeFail(): void
    {
        $e = array_shift($this->failures);
        if ($e !== null) {
            throw $e;
        }
    }
}
