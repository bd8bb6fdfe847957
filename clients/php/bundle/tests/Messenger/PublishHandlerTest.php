<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Tests\Messenger;

use PHPUnit\Framework\TestCase;
use RealtimeHub\Bundle\Messenger\Broadcast;
use RealtimeHub\Bundle\Messenger\Publish;
use RealtimeHub\Bundle\Messenger\PublishHandler;
use RealtimeHub\Bundle\Test\RecordingHubClient;
use RealtimeHub\Client\BroadcastResult;
use RealtimeHub\Client\ChannelResult;
use RealtimeHub\Client\Exception\BadRequestException;
use RealtimeHub\Client\Exception\HubException;
use RealtimeHub\Client\Exception\PermissionDeniedException;
use RealtimeHub\Client\Exception\UnavailableException;
use RealtimeHub\Client\HubClientInterface;
use Symfony\Component\Messenger\Envelope;
use Symfony\Component\Messenger\Exception\HandlerFailedException;
use Symfony\Component\Messenger\Exception\UnrecoverableExceptionInterface;
use Symfony\Component\Messenger\Exception\UnrecoverableMessageHandlingException;
use Symfony\Component\Messenger\Handler\HandlerDescriptor;
use Symfony\Component\Messenger\Handler\HandlersLocator;
use Symfony\Component\Messenger\MessageBus;
use Symfony\Component\Messenger\Middleware\HandleMessageMiddleware;
use Symfony\Component\Messenger\Transport\Serialization\PhpSerializer;

final class PublishHandlerTest extends TestCase
{
    public function testTheIdempotencyKeyIsMadeWhenTheMessageIsCreatedAndSurvivesTheTransport(): void
    {
        $a = new Publish('news', ['title' => 'Hi'], ['kind' => 'headline'], true);
        $b = new Publish('news', ['title' => 'Hi']);
        self::assertMatchesRegularExpression('/^[0-9a-f]{32}$/', $a->idempotencyKey);
        self::assertNotSame($a->idempotencyKey, $b->idempotencyKey);
        self::assertSame('mine', (new Publish('news', 1, idempotencyKey: 'mine'))->idempotencyKey);

        // What the async transport does with it: encode, decode.
        $serializer = new PhpSerializer();
        $decoded = $serializer->decode($serializer->encode(new Envelope($a)))->getMessage();
        self::assertInstanceOf(Publish::class, $decoded);
        self::assertSame($a->idempotencyKey, $decoded->idempotencyKey);
        self::assertSame(['kind' => 'headline'], $decoded->tags);
        self::assertTrue($decoded->skipHistory);
    }

    public function testAMessageHandledTwiceIsPublishedOnce(): void
    {
        $hub = new RecordingHubClient();
        $handler = new PublishHandler($hub);
        $message = new Publish('news', ['title' => 'Hi'], ['kind' => 'headline']);
        $first = $handler->publish($message);
        $again = $handler->publish(unserialize(serialize($message)));
        self::assertSame(1, $first->offset);
        self::assertSame($first->offset, $again->offset);
        self::assertCount(1, $hub->publications());
        self::assertSame($message->idempotencyKey, $hub->publications()[0]->idempotencyKey);
        self::assertSame(['kind' => 'headline'], $hub->publications()[0]->tags);
    }

    public function testATemporaryHubErrorIsThrownAsItIsSoMessengerRetries(): void
    {
        $hub = new RecordingHubClient();
        $temporary = new UnavailableException(HubException::INTERNAL, 'shutting down', true);
        $hub->failNext($temporary);
        try {
            (new PublishHandler($hub))->publish(new Publish('news', 1));
            self::fail('no exception');
        } catch (\Throwable $e) {
            self::assertSame($temporary, $e);
            self::assertNotInstanceOf(UnrecoverableExceptionInterface::class, $e);
        }
    }

    public function testAPermanentHubErrorIsUnrecoverableAndKeepsTheHubsError(): void
    {
        $hub = new RecordingHubClient();
        try {
            (new PublishHandler($hub))->publish(new Publish('no spaces allowed', 1));
            self::fail('no exception');
        } catch (UnrecoverableMessageHandlingException $e) {
            self::assertInstanceOf(BadRequestException::class, $e->getPrevious());
            self::assertStringContainsString('"no spaces allowed"', $e->getMessage());
            self::assertStringContainsString('code 107', $e->getMessage());
        }
        $hub->failNext(new PermissionDeniedException(HubException::PERMISSION_DENIED, 'no', false));
        $this->expectException(UnrecoverableMessageHandlingException::class);
        (new PublishHandler($hub))->publish(new Publish('news', 1));
    }

    public function testThroughAMessageBusMessengerSeesTheUnrecoverableExceptionItChecksBeforeRetrying(): void
    {
        $hub = new RecordingHubClient();
        $handler = new PublishHandler($hub);
        $bus = new MessageBus([new HandleMessageMiddleware(new HandlersLocator([
            Publish::class => [new HandlerDescriptor([$handler, 'publish'])],
        ]))]);
        $bus->dispatch(new Publish('news', ['ok' => true]));
        self::assertCount(1, $hub->publications('news'));
        try {
            $bus->dispatch(new Publish('bad channel', 1));
            self::fail('no exception');
        } catch (HandlerFailedException $e) {
            // SendFailedMessageForRetryListener: no retry when every nested exception is unrecoverable.
            $nested = $e->getNestedExceptions();
            self::assertCount(1, $nested);
            self::assertInstanceOf(UnrecoverableExceptionInterface::class, $nested[0]);
        }
    }

    public function testABroadcastWithATemporaryFailureInOneChannelIsRetriedWhole(): void
    {
        $temporary = new UnavailableException(HubException::INTERNAL, 'broker down', true);
        $hub = $this->createMock(HubClientInterface::class);
        $message = new Broadcast(['a', 'b'], 'x');
        $hub->expects(self::once())->method('broadcast')->with(['a', 'b'], 'x', $message->idempotencyKey)
            ->willReturn(new BroadcastResult([new ChannelResult('a', 1, 'e', null), new ChannelResult('b', 0, '', $temporary)], $message->idempotencyKey));
        $this->expectExceptionObject($temporary);
        (new PublishHandler($hub))->broadcast($message);
    }

    public function testABroadcastWithOnlyPermanentFailuresIsUnrecoverableAndNamesTheChannels(): void
    {
        $hub = new RecordingHubClient();
        try {
            (new PublishHandler($hub))->broadcast(new Broadcast(['a', 'b c', 'd'], ['x' => 1]));
            self::fail('no exception');
        } catch (UnrecoverableMessageHandlingException $e) {
            self::assertStringContainsString('1 of 3 channels (b c)', $e->getMessage());
        }
        // The good channels got it: a retry would not help the bad one.
        self::assertCount(1, $hub->publications('a'));
        self::assertCount(1, $hub->publications('d'));
        $ok = (new PublishHandler($hub))->broadcast(new Broadcast(['a', 'd'], 2));
        self::assertSame([2, 2], array_map(static fn (ChannelResult $r) => $r->offset, $ok->channels));
    }
}
