<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Test;

use PHPUnit\Framework\Assert;

/**
 * PHPUnit assertions on what the app published, for a test case using RecordingHubClient
 * (`realtime: { test: true }` in config/packages/test/realtime.yaml):
 *
 *     final class NewsTest extends KernelTestCase
 *     {
 *         use RealtimeAssertions;
 *
 *         public function testPublishes(): void
 *         {
 *             static::getContainer()->get(NewsService::class)->announce('Hi');
 *             self::assertPublished('news', ['title' => 'Hi']);
 *         }
 *     }
 *
 * $data matches the payload as JSON (decoded and compared, so key order does not matter), or
 * is a closure given the decoded payload and the RecordedPublication, returning true for a match.
 * Outside a KernelTestCase, override realtimeRecorder().
 */
trait RealtimeAssertions
{
    /** The recorder of the booted kernel's container (realtime.client). */
    protected static function realtimeRecorder(): RecordingHubClient
    {
        if (!method_exists(static::class, 'getContainer')) {
            Assert::fail(sprintf('%s: use RealtimeAssertions in a KernelTestCase (or override realtimeRecorder())', static::class));
        }
        $client = static::getContainer()->get('realtime.client');
        if (!$client instanceof RecordingHubClient) {
            Assert::fail(sprintf('realtime.client is a %s, not the RecordingHubClient: set `realtime: { test: true }` in config/packages/test/realtime.yaml', get_debug_type($client)));
        }
        return $client;
    }

    /** At least one publication into $channel (matching $data when given). */
    public static function assertPublished(string $channel, mixed $data = null, string $message = ''): void
    {
        $matches = self::realtimePublicationsMatching($channel, $data);
        Assert::assertNotEmpty($matches, $message !== '' ? $message : sprintf(
            'Expected a publication into "%s"%s; published: %s',
            $channel,
            $data === null ? '' : ' matching ' . self::realtimeDescribe($data),
            self::realtimeSummary(),
        ));
    }

    /** No publication into $channel (none matching $data when given). */
    public static function assertNotPublished(string $channel, mixed $data = null, string $message = ''): void
    {
        $matches = self::realtimePublicationsMatching($channel, $data);
        Assert::assertEmpty($matches, $message !== '' ? $message : sprintf(
            'Expected no publication into "%s"%s; published: %s',
            $channel,
            $data === null ? '' : ' matching ' . self::realtimeDescribe($data),
            self::realtimeSummary(),
        ));
    }

    /** Exactly $count publications, into $channel or in all (a repeat of an idempotency key counts once, as on the hub). */
    public static function assertPublishedCount(int $count, ?string $channel = null, string $message = ''): void
    {
        $n = \count(static::realtimeRecorder()->publications($channel));
        Assert::assertSame($count, $n, $message !== '' ? $message : sprintf(
            'Expected %d publication(s)%s, got %d: %s',
            $count,
            $channel === null ? '' : sprintf(' into "%s"', $channel),
            $n,
            self::realtimeSummary(),
        ));
    }

    /** A disconnect of $user (its connection $client when given). */
    public static function assertDisconnected(string $user, ?string $client = null, string $message = ''): void
    {
        $found = array_filter(static::realtimeRecorder()->disconnects(), static fn (array $d) => $d['user'] === $user && ($client === null || $d['client'] === $client));
        Assert::assertNotEmpty($found, $message !== '' ? $message : sprintf('Expected a disconnect of user "%s"%s; disconnected: %s', $user, $client === null ? '' : sprintf(' (client "%s")', $client), json_encode(static::realtimeRecorder()->disconnects())));
    }

    /** @return list<RecordedPublication> */
    private static function realtimePublicationsMatching(string $channel, mixed $data): array
    {
        $pubs = static::realtimeRecorder()->publications($channel);
        if ($data === null) {
            return $pubs;
        }
        if ($data instanceof \Closure) {
            return array_values(array_filter($pubs, static fn (RecordedPublication $p) => $data($p->json(), $p) === true));
        }
        $want = \is_string($data) ? $data : json_encode($data, \JSON_THROW_ON_ERROR | \JSON_UNESCAPED_SLASHES | \JSON_UNESCAPED_UNICODE | \JSON_PRESERVE_ZERO_FRACTION);
        $wantJson = json_decode($want, true);
        return array_values(array_filter($pubs, static fn (RecordedPublication $p) => $p->payload === $want || ($wantJson !== null && $p->json() == $wantJson)));
    }

    private static function realtimeDescribe(mixed $data): string
    {
        return $data instanceof \Closure ? 'the closure' : (\is_string($data) ? $data : (string) json_encode($data, \JSON_UNESCAPED_SLASHES | \JSON_UNESCAPED_UNICODE));
    }

    private static function realtimeSummary(): string
    {
        $pubs = static::realtimeRecorder()->publications();
        if ($pubs === []) {
            return 'none';
        }
        return implode('; ', array_map(static fn (RecordedPublication $p) => sprintf('%s <- %s', $p->channel, $p->payload), \array_slice($pubs, 0, 20)));
    }
}
