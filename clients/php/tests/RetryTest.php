<?php

declare(strict_types=1);

namespace RealtimeHub\Client\Tests;

use Google\Protobuf\Internal\Message;
use PHPUnit\Framework\TestCase;
use Realtime\V1\PublishRequest;
use Realtime\V1\PublishResponse;
use RealtimeHub\Client\Exception\BadRequestException;
use RealtimeHub\Client\Exception\HubException;
use RealtimeHub\Client\Exception\TransportException;
use RealtimeHub\Client\Exception\UnavailableException;
use RealtimeHub\Client\HubClient;
use RealtimeHub\Client\Transport\Transport;

/** HubClient's retries, with a transport that fails as told and records what it was sent. */
final class RetryTest extends TestCase
{
    /**
     * @param list<HubException|null> $outcomes one per call: throw it, or answer (null)
     * @return object{sent: list<string>}&Transport
     */
    private static function transport(array $outcomes): Transport
    {
        return new class ($outcomes) implements Transport {
            /** @var list<string> the serialized requests, one per call */
            public array $sent = [];

            /** @param list<HubException|null> $outcomes */
            public function __construct(private array $outcomes)
            {
            }

            public function call(string $method, Message $request, string $responseClass): Message
            {
                $this->sent[] = $request->serializeToString();
                $e = array_shift($this->outcomes);
                if ($e !== null) {
                    throw $e;
                }
                return new PublishResponse(['offset' => 7, 'epoch' => 'e']);
            }
        };
    }

    public function testTemporaryErrorsAreRetriedWithTheSameIdempotencyKey(): void
    {
        $t = self::transport([
            TransportException::network('timed out', true),
            HubException::fromHub(108, 'shutting down', true, 503),
            null,
        ]);
        $r = (new HubClient($t, attempts: 3, backoffMs: 1))->publish('chat', ['x' => 1]);
        self::assertSame(7, $r->offset);
        self::assertCount(3, $t->sent);
        self::assertSame($t->sent[0], $t->sent[2], 'the retry is the same request');
        $req = new PublishRequest();
        $req->mergeFromString($t->sent[0]);
        self::assertSame($r->idempotencyKey, $req->getIdempotencyKey());
    }

    public function testPermanentErrorsAreNotRetried(): void
    {
        $t = self::transport([HubException::fromHub(107, 'invalid channel name', false, 400), null]);
        try {
            (new HubClient($t, backoffMs: 1))->publish('bad channel', 'x');
            self::fail('no exception');
        } catch (BadRequestException $e) {
            self::assertCount(1, $t->sent);
            self::assertSame(400, $e->getHttpStatus());
        }
    }

    public function testTheLastTemporaryErrorIsThrownOnceAttemptsAreUsedUp(): void
    {
        $t = self::transport(array_fill(0, 3, HubException::fromHub(100, 'store down', true, 503)));
        try {
            (new HubClient($t, attempts: 2, backoffMs: 1))->info();
            self::fail('no exception');
        } catch (UnavailableException $e) {
            self::assertTrue($e->isTemporary());
            self::assertSame(100, $e->getCode());
            self::assertCount(2, $t->sent);
        }
    }

    public function testEachCallGetsItsOwnKeyAndAGivenKeyIsKept(): void
    {
        $t = self::transport([null, null, null]);
        $hub = new HubClient($t);
        $a = $hub->publish('chat', 'a');
        $b = $hub->publish('chat', 'a');
        $c = $hub->publish('chat', 'a', idempotencyKey: 'mine');
        self::assertMatchesRegularExpression('/^[0-9a-f]{32}$/', $a->idempotencyKey);
        self::assertNotSame($a->idempotencyKey, $b->idempotencyKey);
        self::assertSame('mine', $c->idempotencyKey);
    }
}
