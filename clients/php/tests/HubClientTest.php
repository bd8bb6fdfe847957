<?php

declare(strict_types=1);

namespace RealtimeHub\Client\Tests;

use PHPUnit\Framework\TestCase;
use Realtime\V1\ClientInfo;
use RealtimeHub\Client\Exception\BadRequestException;
use RealtimeHub\Client\Exception\HubException;
use RealtimeHub\Client\Exception\TransportException;
use RealtimeHub\Client\Exception\UnauthorizedException;
use RealtimeHub\Client\HubClient;
use RealtimeHub\Client\Transport\GrpcTransport;
use RealtimeHub\Client\Transport\HttpTransport;
use RealtimeHub\Client\Transport\TransportOptions;

/**
 * Every method over every transport, against a real hub the test run started (see
 * test/php/php-client.test.ts): REALTIME_HTTP_URL, REALTIME_GRPC_URL, REALTIME_API_KEY, and a
 * WebSocket client of user REALTIME_PRESENCE_USER subscribed to REALTIME_PRESENCE_CHANNEL.
 */
final class HubClientTest extends TestCase
{
    private static function env(string $name): string
    {
        $v = getenv($name);
        if ($v === false || $v === '') {
            self::markTestSkipped("$name is not set: run this suite through test/php/php-client.test.ts");
        }
        return $v;
    }

    /** @return array<string, array{string}> */
    public function transports(): array
    {
        return ['http protobuf' => ['http'], 'http json' => ['json'], 'grpc h2c' => ['grpc']];
    }

    private function client(string $transport, ?string $apiKey = null): HubClient
    {
        $key = $apiKey ?? self::env('REALTIME_API_KEY');
        $options = new TransportOptions(timeout: 5.0, connectTimeout: 1.0);
        return match ($transport) {
            'http' => HubClient::http(self::env('REALTIME_HTTP_URL'), $key, $options),
            'json' => HubClient::httpJson(self::env('REALTIME_HTTP_URL'), $key, $options),
            'grpc' => HubClient::grpc(self::env('REALTIME_GRPC_URL'), $key, $options),
        };
    }

    /** A channel of this test alone (tests share the hub). */
    private static function channel(string $transport, string $name): string
    {
        return "php-$transport:$name-" . bin2hex(random_bytes(4));
    }

    /** @dataProvider transports */
    public function testPublishThenHistory(string $t): void
    {
        $hub = $this->client($t);
        $ch = self::channel($t, 'history');
        $first = $hub->publish($ch, ['n' => 1, 'text' => 'héllo/ü']);
        $second = $hub->publish($ch, '{"n":2}', tags: ['kind' => 'test']);
        self::assertSame(1, $first->offset);
        self::assertSame(2, $second->offset);
        self::assertNotSame('', $first->epoch);
        self::assertSame($first->epoch, $second->epoch);
        self::assertSame(32, strlen($first->idempotencyKey), 'a key is generated per call');
        self::assertNotSame($first->idempotencyKey, $second->idempotencyKey);

        $h = $hub->history($ch, limit: 10);
        self::assertSame(2, (int) $h->getOffset());
        self::assertSame($first->epoch, $h->getEpoch());
        self::assertCount(2, $h->getPublications());
        self::assertSame(['n' => 1, 'text' => 'héllo/ü'], json_decode($h->getPublications()[0]->getData(), true));
        self::assertSame('{"n":2}', $h->getPublications()[1]->getData());
        self::assertSame('test', $h->getPublications()[1]->getTags()['kind']);

        $since = $hub->history($ch, limit: 10, sinceOffset: 1, sinceEpoch: $first->epoch);
        self::assertCount(1, $since->getPublications());
        self::assertSame(2, (int) $since->getPublications()[0]->getOffset());
        $newest = $hub->history($ch, limit: 1, reverse: true);
        self::assertSame(2, (int) $newest->getPublications()[0]->getOffset());
        self::assertCount(0, $hub->history($ch)->getPublications(), 'limit 0: only the position');

        $hub->historyRemove($ch);
        self::assertCount(0, $hub->history($ch, limit: 10)->getPublications());
    }

    /** @dataProvider transports */
    public function testBinaryDataKeepsItsBytes(string $t): void
    {
        $hub = $this->client($t);
        $ch = self::channel($t, 'binary');
        $bytes = "\x00\xff\x80not json";
        $hub->publish($ch, $bytes);
        self::assertSame($bytes, $hub->history($ch, limit: 1)->getPublications()[0]->getData());
    }

    /** @dataProvider transports */
    public function testSameIdempotencyKeyIsPublishedOnce(string $t): void
    {
        $hub = $this->client($t);
        $ch = self::channel($t, 'idem');
        $key = 'order-42-' . bin2hex(random_bytes(4));
        $a = $hub->publish($ch, ['order' => 42], idempotencyKey: $key);
        $b = $hub->publish($ch, ['order' => 42], idempotencyKey: $key);
        self::assertSame($a->offset, $b->offset);
        self::assertSame($key, $b->idempotencyKey);
        self::assertCount(1, $hub->history($ch, limit: 10)->getPublications());
    }

    /** @dataProvider transports */
    public function testBroadcast(string $t): void
    {
        $hub = $this->client($t);
        $a = self::channel($t, 'bc-a');
        $b = self::channel($t, 'bc-b');
        $r = $hub->broadcast([$a, $b, 'bad channel!'], ['hello' => 'all']);
        self::assertCount(3, $r->channels);
        self::assertSame([$a, $b, 'bad channel!'], array_map(static fn ($c) => $c->channel, $r->channels));
        self::assertSame(1, $r->channels[0]->offset);
        self::assertNull($r->channels[0]->error);
        $failed = $r->failed();
        self::assertCount(1, $failed);
        self::assertInstanceOf(BadRequestException::class, $failed[0]->error);
        self::assertSame(107, $failed[0]->error->getCode());
        self::assertCount(1, $hub->history($b, limit: 10)->getPublications());

        // The same key again: nothing new in either channel.
        $again = $hub->broadcast([$a, $b], ['hello' => 'all'], idempotencyKey: $r->idempotencyKey);
        self::assertSame(1, $again->channels[1]->offset);
        self::assertCount(1, $hub->history($b, limit: 10)->getPublications());
    }

    /** @dataProvider transports */
    public function testPresenceChannelsInfo(string $t): void
    {
        $hub = $this->client($t);
        $ch = self::env('REALTIME_PRESENCE_CHANNEL');
        $user = self::env('REALTIME_PRESENCE_USER');

        $presence = $hub->presence($ch);
        self::assertCount(1, $presence);
        $info = array_values($presence)[0];
        self::assertInstanceOf(ClientInfo::class, $info);
        self::assertSame($user, $info->getUser());
        self::assertSame(array_keys($presence)[0], $info->getClient());

        $stats = $hub->presenceStats($ch);
        self::assertSame(1, $stats->numClients);
        self::assertSame(1, $stats->numUsers);

        $channels = $hub->channels($ch);
        self::assertSame(1, $channels->getChannels()[$ch]->getNumClients());
        self::assertFalse($channels->getTruncated());
        self::assertCount(0, $hub->channels('no-such-channel-*')->getChannels());

        $nodes = $hub->info()->getNodes();
        self::assertCount(1, $nodes);
        self::assertNotSame('', $nodes[0]->getId());
        self::assertGreaterThanOrEqual(1, $nodes[0]->getNumClients());
    }

    /** @dataProvider transports */
    public function testDisconnectAndUnsubscribeOfAnAbsentUser(string $t): void
    {
        $hub = $this->client($t);
        // Nobody is connected as this user: both calls succeed and change nothing.
        $hub->unsubscribe('php-nobody', self::channel($t, 'unsub'));
        $hub->disconnect('php-nobody', reason: 'test');
        $hub->disconnect('php-nobody', client: 'no-such-client', code: 3000, reason: 'test');
        $this->addToAssertionCount(1);
    }

    /** @dataProvider transports */
    public function testEraseUser(string $t): void
    {
        $hub = $this->client($t);
        // test/php/php-client.test.ts connected this user, subscribed to this channel and
        // published two messages there.
        $user = self::env('REALTIME_ERASE_USER_PREFIX') . $t;
        $ch = "php-erase:$t";

        $r = $hub->eraseUser($user, disconnect: false);
        self::assertSame(2, $r->publicationsRemoved);
        self::assertSame(1, $r->presenceRemoved);
        self::assertSame(0, $r->disconnected);
        self::assertTrue($r->complete());
        self::assertSame([], $r->missingNodes);
        self::assertCount(1, $r->nodes);
        self::assertNull($r->nodes[0]['error']);
        $history = array_values(array_filter($r->stores, static fn (array $s) => $s['kind'] === 'history'));
        self::assertCount(1, $history);
        self::assertSame('memory', $history[0]['store']);
        self::assertSame($r->nodes[0]['node'], $history[0]['node']);
        self::assertSame([$ch => 2], $history[0]['channels']);
        self::assertFalse($history[0]['channelsTruncated']);
        self::assertCount(0, $hub->history($ch, 10)->getPublications());
        self::assertSame(2, (int) $hub->history($ch)->getOffset()); // offsets stay

        // Again, closing the connection this time: nothing left to remove.
        $again = $hub->eraseUser($user);
        self::assertSame(0, $again->publicationsRemoved);
        self::assertSame(1, $again->disconnected);
        self::assertCount(0, $hub->presence($ch));

        try {
            $hub->eraseUser('');
            self::fail('an empty user must be refused');
        } catch (BadRequestException $e) {
            self::assertSame(107, $e->getCode());
            self::assertStringContainsString('user is required', $e->getMessage());
        }
    }

    public function testSubscribeEndsAfterMaxSecondsAndGetsABackendPublication(): void
    {
        $ch = self::channel('grpc', 'consume');
        $ready = 0;
        $events = [];
        $started = microtime(true);
        $this->client('grpc')->subscribe([$ch], static function ($ev) use (&$events): void {
            $events[] = $ev;
        }, onReady: static function () use (&$ready): void {
            $ready++;
        }, maxSeconds: 0.5);
        self::assertSame(1, $ready);
        self::assertSame([], $events);
        self::assertGreaterThanOrEqual(0.4, microtime(true) - $started);

        // A publication from this process cannot arrive while subscribe() blocks; one published
        // from onReady can (the subscription is in place by then).
        $hub = $this->client('http');
        $this->client('grpc')->subscribe([$ch], static function ($ev) use (&$events): bool {
            $events[] = $ev;
            return false;
        }, onReady: static function () use ($hub, $ch): void {
            $hub->publish($ch, ['from' => 'backend']);
        }, maxSeconds: 5);
        self::assertCount(1, $events);
        self::assertSame($ch, $events[0]->getChannel());
        self::assertSame('{"from":"backend"}', $events[0]->getPublication()->getData());
        self::assertNull($events[0]->getPublication()->getInfo(), 'a backend publication has no client info');
    }

    public function testSubscribeNeedsTheGrpcTransport(): void
    {
        $this->expectException(\LogicException::class);
        $this->client('http')->subscribe(['chat'], static fn () => false);
    }

    /** @dataProvider transports */
    public function testBadChannelIsABadRequest(string $t): void
    {
        $hub = $this->client($t);
        try {
            $hub->publish('bad channel!', ['x' => 1]);
            self::fail('published into an invalid channel');
        } catch (BadRequestException $e) {
            self::assertSame(HubException::BAD_REQUEST, $e->getCode());
            self::assertSame(107, $e->getHubCode());
            self::assertFalse($e->isTemporary());
            self::assertStringContainsString('invalid channel name', $e->getMessage());
            if ($t === 'grpc') {
                self::assertSame(3, $e->getGrpcStatus(), 'INVALID_ARGUMENT');
            } else {
                self::assertSame(400, $e->getHttpStatus());
            }
        }
    }

    /** @dataProvider transports */
    public function testWrongApiKeyIsUnauthorized(string $t): void
    {
        foreach (['wrong-key', ''] as $key) {
            try {
                $this->client($t, $key)->info();
                self::fail("the hub answered with API key \"$key\"");
            } catch (UnauthorizedException $e) {
                self::assertSame(101, $e->getCode());
                self::assertFalse($e->isTemporary());
                if ($t === 'grpc') {
                    self::assertSame(16, $e->getGrpcStatus(), 'UNAUTHENTICATED');
                } else {
                    self::assertSame(401, $e->getHttpStatus());
                }
            }
        }
    }

    /** @dataProvider transports */
    public function testNoHubIsATemporaryTransportError(string $t): void
    {
        // Port 1 (tcpmux): nobody listens there on a test machine.
        $url = 'http://127.0.0.1:1';
        $client = match ($t) {
            'grpc' => new HubClient(new GrpcTransport($url), attempts: 2, backoffMs: 1),
            'json' => new HubClient(new HttpTransport($url, json: true), attempts: 2, backoffMs: 1),
            default => new HubClient(new HttpTransport($url), attempts: 2, backoffMs: 1),
        };
        try {
            $client->publish('chat', ['x' => 1]);
            self::fail('published with no hub');
        } catch (TransportException $e) {
            self::assertTrue($e->isTemporary());
            self::assertSame(0, $e->getCode());
        }
    }
}
