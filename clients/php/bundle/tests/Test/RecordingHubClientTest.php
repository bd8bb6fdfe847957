<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Tests\Test;

use PHPUnit\Framework\AssertionFailedError;
use PHPUnit\Framework\TestCase;
use Realtime\V1\ClientInfo;
use Realtime\V1\Publication;
use Realtime\V1\SubscribeResponse;
use RealtimeHub\Bundle\Test\RealtimeAssertions;
use RealtimeHub\Bundle\Test\RecordedPublication;
use RealtimeHub\Bundle\Test\RecordingHubClient;
use RealtimeHub\Client\Exception\BadRequestException;
use RealtimeHub\Client\Exception\HubException;
use RealtimeHub\Client\Exception\UnavailableException;

final class RecordingHubClientTest extends TestCase
{
    use RealtimeAssertions;

    private static RecordingHubClient $hub;

    protected function setUp(): void
    {
        self::$hub = new RecordingHubClient();
    }

    protected static function realtimeRecorder(): RecordingHubClient
    {
        return self::$hub;
    }

    public function testOffsetsIncreasePerChannelAndARepeatedKeyIsRecordedOnce(): void
    {
        $hub = self::$hub;
        self::assertSame(1, $hub->publish('a', ['n' => 1])->offset);
        self::assertSame(2, $hub->publish('a', ['n' => 2], 'k')->offset);
        self::assertSame(1, $hub->publish('b', 'raw')->offset);
        $again = $hub->publish('a', ['n' => 'other'], 'k');
        self::assertSame(2, $again->offset);
        self::assertSame('k', $again->idempotencyKey);
        self::assertSame(RecordingHubClient::EPOCH, $again->epoch);
        self::assertSame(['{"n":1}', '{"n":2}'], array_map(static fn (RecordedPublication $p) => $p->payload, $hub->publications('a')));
        self::assertSame(['n' => 2], $hub->publications('a')[1]->json());
        self::assertCount(3, $hub->publications());

        $history = $hub->history('a', 10, null, '', true);
        self::assertSame(['{"n":2}', '{"n":1}'], array_map(static fn (Publication $p) => $p->getData(), iterator_to_array($history->getPublications())));
        self::assertSame(2, (int) $history->getOffset());
    }

    public function testBroadcastRecordsEachChannelAndFailsABadNameOnlyInItsChannel(): void
    {
        $r = self::$hub->broadcast(['x', 'not valid', 'y'], ['hello' => 'all']);
        self::assertCount(1, $r->failed());
        self::assertInstanceOf(BadRequestException::class, $r->failed()[0]->error);
        self::assertTrue(self::$hub->publications('x')[0]->fromBroadcast);
        self::assertCount(1, self::$hub->broadcasts());
        self::assertPublished('y', ['hello' => 'all']);
        self::assertPublishedCount(2);
    }

    public function testFailNextThrowsOnceThenWorks(): void
    {
        self::$hub->failNext(new UnavailableException(HubException::INTERNAL, 'down', true));
        try {
            self::$hub->publish('a', 1);
            self::fail('no exception');
        } catch (UnavailableException $e) {
            self::assertTrue($e->isTemporary());
        }
        self::assertSame(1, self::$hub->publish('a', 1)->offset);
    }

    public function testPresenceChannelsDisconnectsAndSubscribeAnswerFromWhatTheTestSetUp(): void
    {
        $hub = self::$hub;
        $hub->setPresence('chat:1', [new ClientInfo(['user' => 'alice', 'client' => 'c1']), new ClientInfo(['user' => 'alice', 'client' => 'c2'])]);
        self::assertSame(['c1', 'c2'], array_keys($hub->presence('chat:1')));
        $stats = $hub->presenceStats('chat:1');
        self::assertSame([2, 1], [$stats->numClients, $stats->numUsers]);
        self::assertSame(['chat:1'], array_keys(iterator_to_array($hub->channels('chat:*')->getChannels())));
        self::assertSame([], iterator_to_array($hub->channels('news*')->getChannels()));

        $hub->disconnect('bob', '', 3500, 'bye');
        self::assertDisconnected('bob');
        $this->assertFails(static fn () => self::assertDisconnected('carol'), 'user "carol"');

        $hub->pushEvent(new SubscribeResponse(['channel' => 'other', 'publication' => new Publication(['data' => '1'])]));
        $hub->pushEvent(new SubscribeResponse(['channel' => 'news', 'publication' => new Publication(['data' => '2'])]));
        $hub->pushEvent(new SubscribeResponse(['channel' => 'news', 'publication' => new Publication(['data' => '3'])]));
        $got = [];
        $ready = false;
        $hub->subscribe(['news'], static function (SubscribeResponse $ev) use (&$got): bool {
            $got[] = $ev->getPublication()->getData();
            return true;
        }, onReady: static function () use (&$ready): void {
            $ready = true;
        });
        self::assertTrue($ready);
        self::assertSame(['2', '3'], $got);
    }

    public function testEraseUserRecordsTheRequestAndTakesTheUserOutOfPresence(): void
    {
        $hub = self::$hub;
        $hub->setPresence('chat:1', [new ClientInfo(['user' => 'alice', 'client' => 'c1']), new ClientInfo(['user' => 'bob', 'client' => 'c2'])]);
        $result = $hub->eraseUser('alice');
        self::assertSame(1, $result->presenceRemoved);
        self::assertTrue($result->complete());
        self::assertSame(['c2'], array_keys($hub->presence('chat:1')));
        self::assertSame([['user' => 'alice', 'disconnect' => true]], $hub->erasures());
        try {
            $hub->eraseUser('');
            self::fail('an empty user was accepted');
        } catch (BadRequestException $e) {
            self::assertSame(107, $e->getHubCode());
        }
    }

    public function testTheAssertionsPassAndFailAsTheyShould(): void
    {
        self::$hub->publish('news', ['title' => 'Hi', 'n' => 1]);
        self::$hub->publish('news', '{"n":2,"title":"Again"}');

        self::assertPublished('news');
        self::assertPublished('news', ['n' => 1, 'title' => 'Hi']); // key order does not matter
        self::assertPublished('news', ['title' => 'Again', 'n' => 2]);
        self::assertPublished('news', static fn (array $data) => $data['n'] === 2);
        self::assertNotPublished('sport');
        self::assertNotPublished('news', ['title' => 'Bye']);
        self::assertPublishedCount(2, 'news');
        self::assertPublishedCount(0, 'sport');

        $this->assertFails(static fn () => self::assertPublished('sport'), 'Expected a publication into "sport"; published: news <- {"title":"Hi","n":1}');
        $this->assertFails(static fn () => self::assertPublished('news', ['title' => 'Bye']), 'matching {"title":"Bye"}');
        $this->assertFails(static fn () => self::assertNotPublished('news', ['n' => 1, 'title' => 'Hi']), 'Expected no publication into "news"');
        $this->assertFails(static fn () => self::assertPublishedCount(1, 'news'), 'Expected 1 publication(s) into "news", got 2');
        $this->assertFails(static fn () => self::assertPublished('news', static fn () => false), 'matching the closure');
    }

    public function testResetForgetsEverything(): void
    {
        self::$hub->publish('news', 1);
        self::$hub->reset();
        self::assertPublishedCount(0);
        self::assertSame(1, self::$hub->publish('news', 1)->offset);
    }

    private function assertFails(\Closure $assertion, string $messagePart): void
    {
        try {
            $assertion();
        } catch (AssertionFailedError $e) {
            self::assertStringContainsString($messagePart, $e->getMessage());
            return;
        }
        self::fail('the assertion passed: ' . $messagePart);
    }
}
