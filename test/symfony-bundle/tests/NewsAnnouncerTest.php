<?php

declare(strict_types=1);

namespace App\Tests;

use App\Service\NewsAnnouncer;
use PHPUnit\Framework\AssertionFailedError;
use RealtimeHub\Bundle\Test\RealtimeAssertions;
use RealtimeHub\Bundle\Test\RecordingHubClient;
use Symfony\Bundle\FrameworkBundle\Test\KernelTestCase;
use Symfony\Component\HttpFoundation\Request;

/** The app's tests, as a Symfony user writes them with the bundle's test double (no hub runs). */
final class NewsAnnouncerTest extends KernelTestCase
{
    use RealtimeAssertions;

    public function testAServicePublishesAndBroadcasts(): void
    {
        self::bootKernel();
        $offset = static::getContainer()->get(NewsAnnouncer::class)->announce('Storm warning', urgent: true);

        self::assertSame(1, $offset);
        self::assertPublished('news', ['title' => 'Storm warning']);
        self::assertPublished('news', static fn (array $data, $publication) => $publication->tags === ['priority' => 'high']);
        self::assertPublished('alerts:mobile', ['title' => 'Storm warning']);
        self::assertPublishedCount(3);
        self::assertNotPublished('sport');
    }

    public function testTheControllerPublishesThroughTheAutowiredClient(): void
    {
        $kernel = self::bootKernel();
        $response = $kernel->handle(Request::create('/news', 'POST', ['title' => 'From a request']));

        self::assertSame(200, $response->getStatusCode(), (string) $response->getContent());
        self::assertSame(['offset' => 1, 'epoch' => RecordingHubClient::EPOCH], json_decode((string) $response->getContent(), true));
        self::assertPublished('news', ['title' => 'From a request']);
        self::assertPublishedCount(1, 'news');
    }

    public function testAPublishMessageDispatchedTwiceIsPublishedOnce(): void
    {
        $kernel = self::bootKernel();
        // config/packages/test/messenger.yaml: the async transport is sync:// in tests.
        $response = $kernel->handle(Request::create('/messenger/publish?twice=1', 'POST', ['channel' => 'news:messenger', 'title' => 'Queued']));

        self::assertSame(202, $response->getStatusCode(), (string) $response->getContent());
        self::assertPublished('news:messenger', ['title' => 'Queued']);
        self::assertPublishedCount(1, 'news:messenger');
        $key = json_decode((string) $response->getContent(), true)['idempotencyKey'];
        self::assertSame($key, static::getContainer()->get(RecordingHubClient::class)->publications('news:messenger')[0]->idempotencyKey);
    }

    public function testTheAssertionFailsWhenNothingWasPublished(): void
    {
        self::bootKernel();
        static::getContainer()->get(NewsAnnouncer::class)->announce('Quiet day');
        try {
            self::assertPublished('sport');
        } catch (AssertionFailedError $e) {
            self::assertStringContainsString('Expected a publication into "sport"; published: news <- {"title":"Quiet day"}', $e->getMessage());
            return;
        }
        self::fail('assertPublished passed with nothing published into sport');
    }
}
