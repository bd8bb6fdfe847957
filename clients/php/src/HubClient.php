<?php

declare(strict_types=1);

namespace RealtimeHub\Client;

use Google\Protobuf\Internal\Message;
use Realtime\V1\BroadcastRequest;
use Realtime\V1\BroadcastResponse;
use Realtime\V1\ChannelsRequest;
use Realtime\V1\ChannelsResponse;
use Realtime\V1\DisconnectRequest;
use Realtime\V1\DisconnectResponse;
use Realtime\V1\EraseUserRequest;
use Realtime\V1\EraseUserResponse;
use Realtime\V1\HistoryRemoveRequest;
use Realtime\V1\HistoryRemoveResponse;
use Realtime\V1\HistoryRequest;
use Realtime\V1\HistoryResponse;
use Realtime\V1\InfoRequest;
use Realtime\V1\InfoResponse;
use Realtime\V1\PresenceRequest;
use Realtime\V1\PresenceResponse;
use Realtime\V1\PresenceStatsRequest;
use Realtime\V1\PresenceStatsResponse;
use Realtime\V1\PublishRequest;
use Realtime\V1\PublishResponse;
use Realtime\V1\StreamPosition;
use Realtime\V1\SubscribeRequest;
use Realtime\V1\SubscribeResponse;
use Realtime\V1\UnsubscribeRequest;
use Realtime\V1\UnsubscribeResponse;
use RealtimeHub\Client\Exception\HubException;
use RealtimeHub\Client\Transport\GrpcTransport;
use RealtimeHub\Client\Transport\HttpTransport;
use RealtimeHub\Client\Transport\StreamingTransport;
use RealtimeHub\Client\Transport\Transport;
use RealtimeHub\Client\Transport\TransportOptions;

/**
 * The hub's server API over one transport. A call that fails with a temporary error (the
 * hub restarting, a network failure, a timeout) is tried again, up to $attempts times in all,
 * with the same request: publish and broadcast keep their idempotency key, so a retry is
 * never delivered twice.
 */
final class HubClient implements HubClientInterface
{
    /**
     * @param int $attempts tries per call, at least 1; default 3
     * @param int $backoffMs wait before the second try, doubled before each next one; default 100
     */
    public function __construct(
        private readonly Transport $transport,
        private readonly int $attempts = 3,
        private readonly int $backoffMs = 100,
    ) {
        if ($attempts < 1) {
            throw new \InvalidArgumentException('attempts must be at least 1');
        }
    }

    /** The HTTP API with protobuf bodies (the default transport), e.g. `HubClient::http('http://127.0.0.1:8000', $key)`. */
    public static function http(string $url, string $apiKey = '', TransportOptions $options = new TransportOptions()): self
    {
        return new self(new HttpTransport($url, $apiKey, $options));
    }

    /** The HTTP API with JSON bodies. */
    public static function httpJson(string $url, string $apiKey = '', TransportOptions $options = new TransportOptions()): self
    {
        return new self(new HttpTransport($url, $apiKey, $options, json: true));
    }

    /** gRPC over HTTP/2 with ext-curl: `http://host:grpcPort` (h2c) or `https://host:grpcPort`. */
    public static function grpc(string $url, string $apiKey = '', TransportOptions $options = new TransportOptions()): self
    {
        return new self(new GrpcTransport($url, $apiKey, $options));
    }

    /**
     * A client from one DSN, as an app keeps it in its environment (REALTIME_DSN):
     * `http://host:port` or `https://...` (the HTTP API, protobuf), `http+json://` or
     * `https+json://` (the HTTP API, JSON), `grpc://host:grpcPort` (h2c) or `grpcs://` (TLS).
     * An API key may ride in the DSN's user part (`http://KEY@host:port`) when $apiKey is "".
     */
    public static function fromDsn(string $dsn, string $apiKey = '', TransportOptions $options = new TransportOptions(), int $attempts = 3, int $backoffMs = 100): self
    {
        $parts = parse_url($dsn);
        if ($parts === false || !isset($parts['scheme'], $parts['host'])) {
            throw new \InvalidArgumentException(sprintf('realtime-hub DSN "%s" is not a URL like http://127.0.0.1:8000 or grpc://127.0.0.1:9000', self::redact($dsn)));
        }
        if ($apiKey === '' && isset($parts['user'])) {
            $apiKey = rawurldecode($parts['user']);
        }
        $host = str_contains($parts['host'], ':') && $parts['host'][0] !== '[' ? '[' . $parts['host'] . ']' : $parts['host'];
        $rest = $host . (isset($parts['port']) ? ':' . $parts['port'] : '') . ($parts['path'] ?? '');
        $transport = match (strtolower($parts['scheme'])) {
            'http' => new HttpTransport('http://' . $rest, $apiKey, $options),
            'https' => new HttpTransport('https://' . $rest, $apiKey, $options),
            'http+json' => new HttpTransport('http://' . $rest, $apiKey, $options, json: true),
            'https+json' => new HttpTransport('https://' . $rest, $apiKey, $options, json: true),
            'grpc' => new GrpcTransport('http://' . $rest, $apiKey, $options),
            'grpcs' => new GrpcTransport('https://' . $rest, $apiKey, $options),
            default => throw new \InvalidArgumentException(sprintf('realtime-hub DSN scheme "%s" is not one of http, https, http+json, https+json, grpc, grpcs', $parts['scheme'])),
        };
        return new self($transport, $attempts, $backoffMs);
    }

    /** The DSN without its API key, for error messages. */
    private static function redact(string $dsn): string
    {
        return (string) preg_replace('~//[^/@]*@~', '//***@', $dsn);
    }

    public function publish(string $channel, mixed $data, ?string $idempotencyKey = null, bool $skipHistory = false, array $tags = []): PublishResult
    {
        $key = $idempotencyKey ?? self::newKey();
        $req = new PublishRequest([
            'channel' => $channel,
            'data' => self::payload($data),
            'idempotency_key' => $key,
            'skip_history' => $skipHistory,
            'tags' => $tags,
        ]);
        /** @var PublishResponse $res */
        $res = $this->call('Publish', $req, PublishResponse::class);
        return new PublishResult((int) $res->getOffset(), $res->getEpoch(), $key);
    }

    public function broadcast(array $channels, mixed $data, ?string $idempotencyKey = null, bool $skipHistory = false, array $tags = []): BroadcastResult
    {
        $key = $idempotencyKey ?? self::newKey();
        $req = new BroadcastRequest([
            'channels' => array_values($channels),
            'data' => self::payload($data),
            'idempotency_key' => $key,
            'skip_history' => $skipHistory,
            'tags' => $tags,
        ]);
        /** @var BroadcastResponse $res */
        $res = $this->call('Broadcast', $req, BroadcastResponse::class);
        $out = [];
        foreach ($res->getResults() as $r) {
            $e = $r->getError();
            $out[] = new ChannelResult(
                $r->getChannel(),
                (int) $r->getOffset(),
                $r->getEpoch(),
                $e === null ? null : HubException::fromHub((int) $e->getCode(), $e->getMessage(), $e->getTemporary()),
            );
        }
        return new BroadcastResult($out, $key);
    }

    public function presence(string $channel): array
    {
        /** @var PresenceResponse $res */
        $res = $this->call('Presence', new PresenceRequest(['channel' => $channel]), PresenceResponse::class);
        return iterator_to_array($res->getPresence());
    }

    public function presenceStats(string $channel): PresenceStats
    {
        /** @var PresenceStatsResponse $res */
        $res = $this->call('PresenceStats', new PresenceStatsRequest(['channel' => $channel]), PresenceStatsResponse::class);
        return new PresenceStats($res->getNumClients(), $res->getNumUsers());
    }

    public function history(string $channel, int $limit = 0, ?int $sinceOffset = null, string $sinceEpoch = '', bool $reverse = false): HistoryResponse
    {
        $req = new HistoryRequest(['channel' => $channel, 'limit' => $limit, 'reverse' => $reverse]);
        if ($sinceOffset !== null) {
            $req->setSince(new StreamPosition(['offset' => $sinceOffset, 'epoch' => $sinceEpoch]));
        }
        /** @var HistoryResponse */
        return $this->call('History', $req, HistoryResponse::class);
    }

    public function historyRemove(string $channel): void
    {
        $this->call('HistoryRemove', new HistoryRemoveRequest(['channel' => $channel]), HistoryRemoveResponse::class);
    }

    public function channels(string $pattern = ''): ChannelsResponse
    {
        /** @var ChannelsResponse */
        return $this->call('Channels', new ChannelsRequest(['pattern' => $pattern]), ChannelsResponse::class);
    }

    public function info(): InfoResponse
    {
        /** @var InfoResponse */
        return $this->call('Info', new InfoRequest(), InfoResponse::class);
    }

    public function disconnect(string $user, string $client = '', int $code = 0, string $reason = ''): void
    {
        $req = new DisconnectRequest(['user' => $user, 'client' => $client, 'code' => $code, 'reason' => $reason]);
        $this->call('Disconnect', $req, DisconnectResponse::class);
    }

    public function unsubscribe(string $user, string $channel, string $client = ''): void
    {
        $req = new UnsubscribeRequest(['user' => $user, 'channel' => $channel, 'client' => $client]);
        $this->call('Unsubscribe', $req, UnsubscribeResponse::class);
    }

    public function eraseUser(string $user, bool $disconnect = true): EraseUserResult
    {
        /** @var EraseUserResponse $res */
        $res = $this->call('EraseUser', new EraseUserRequest(['user' => $user, 'disconnect' => $disconnect]), EraseUserResponse::class);
        return EraseUserResult::fromResponse($res);
    }

    public function subscribe(array $channels, callable $onEvent, bool $clientPublicationsOnly = false, bool $joinLeave = false, ?callable $onReady = null, float $maxSeconds = 0, ?callable $shouldStop = null): void
    {
        if (!$this->transport instanceof StreamingTransport) {
            throw new \LogicException('subscribe() needs a streaming transport: use HubClient::grpc() (the HTTP API has no streams)');
        }
        $req = new SubscribeRequest(['channels' => array_values($channels), 'client_publications_only' => $clientPublicationsOnly, 'join_leave' => $joinLeave]);
        // Not retried here: events published while no stream was open are in history(), which
        // only the caller knows how far it has read.
        $this->transport->serverStream('Subscribe', $req, SubscribeResponse::class, $onEvent, $onReady, $maxSeconds, $shouldStop);
    }

    /**
     * One call, tried again on temporary errors with the same request.
     *
     * @param class-string<Message> $responseClass
     */
    private function call(string $method, Message $request, string $responseClass): Message
    {
        for ($attempt = 1; ; $attempt++) {
            try {
                return $this->transport->call($method, $request, $responseClass);
            } catch (HubException $e) {
                if (!$e->isTemporary() || $attempt >= $this->attempts) {
                    throw $e;
                }
                // Jitter: many workers retrying after one hub restart do not come back in step.
                $wait = $this->backoffMs * (2 ** ($attempt - 1));
                usleep(1000 * ($wait + random_int(0, intdiv($wait, 2))));
            }
        }
    }

    /** A random idempotency key (128 bits): unique per call, repeated by its retries. */
    private static function newKey(): string
    {
        return bin2hex(random_bytes(16));
    }

    private static function payload(mixed $data): string
    {
        return is_string($data) ? $data : json_encode($data, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION);
    }
}
