<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Tests\Webhook;

use PHPUnit\Framework\TestCase;
use Realtime\V1;
use RealtimeHub\Bundle\Event\ConnectEvent;
use RealtimeHub\Bundle\Event\DisconnectEvent;
use RealtimeHub\Bundle\Event\PublishEvent;
use RealtimeHub\Bundle\Event\RefreshEvent;
use RealtimeHub\Bundle\Event\RpcEvent;
use RealtimeHub\Bundle\Event\SubRefreshEvent;
use RealtimeHub\Bundle\Event\SubscribeEvent;
use RealtimeHub\Bundle\Event\UnsubscribeEvent;
use RealtimeHub\Bundle\Webhook\CallKind;
use RealtimeHub\Bundle\Webhook\WebhookCodec;
use RealtimeHub\Bundle\Webhook\WebhookError;
use RealtimeHub\Bundle\Webhook\WebhookHandler;
use Symfony\Component\EventDispatcher\EventDispatcher;

/** Event -> answer: what listeners decide becomes exactly one of result, error, disconnect. */
final class WebhookHandlerTest extends TestCase
{
    private EventDispatcher $dispatcher;

    protected function setUp(): void
    {
        $this->dispatcher = new EventDispatcher();
    }

    private static function context(string $user = 'alice'): V1\ProxyContext
    {
        return new V1\ProxyContext(['client' => 'c-1', 'user' => $user, 'transport' => 'websocket', 'cookies' => ['PHPSESSID' => 's1']]);
    }

    /** The answer in the hub's JSON form, decoded. */
    private function answer(CallKind $kind, \Google\Protobuf\Internal\Message $call, ?WebhookHandler $handler = null): array
    {
        $handler ??= new WebhookHandler($this->dispatcher);

        return json_decode((new WebhookCodec())->encode($handler->handle($kind, $call), false), true);
    }

    /** @param class-string $event */
    private function on(string $event, callable $listener, int $priority = 0): void
    {
        $this->dispatcher->addListener($event, $listener, $priority);
    }

    public function testConnectWithoutAListenerOrASecurityUserIsDenied101(): void
    {
        $call = new V1\ConnectProxyRequest(['context' => self::context('')]);
        self::assertSame(['error' => ['code' => 101, 'message' => 'not logged in']], $this->answer(CallKind::Connect, $call));
    }

    public function testAListenerAllowsAConnectionWithEverythingTheContractAllows(): void
    {
        $seen = null;
        $this->on(ConnectEvent::class, function (ConnectEvent $e) use (&$seen): void {
            $seen = [$e->getClientId(), $e->getCookies(), $e->getData(), $e->getName()];
            $e->subscribe('user:alice', info: ['role' => 'owner'], presence: false);
            $e->allow('alice', info: ['name' => 'Alice'], data: ['hello' => 'Alice'], expireAt: 1_800_000_000, meta: "\x00\x01");
        });
        $call = new V1\ConnectProxyRequest(['context' => self::context(''), 'data' => '{"device":"phone"}', 'name' => 'web']);
        self::assertSame([
            'result' => [
                'user' => 'alice',
                'expireAt' => '1800000000',
                'info' => ['name' => 'Alice'],
                'data' => ['hello' => 'Alice'],
                'subscriptions' => ['user:alice' => ['info' => ['role' => 'owner'], 'presence' => false]],
                'meta' => 'AAE=',
            ],
        ], $this->answer(CallKind::Connect, $call));
        self::assertSame(['c-1', ['PHPSESSID' => 's1'], ['device' => 'phone'], 'web'], $seen);
    }

    public function testConnectDefaultsToTheSecurityUserKeepingWhatListenersAdded(): void
    {
        $this->on(ConnectEvent::class, fn (ConnectEvent $e) => $e->setInfo(['name' => ucfirst($e->getUserId())]));
        $event = new ConnectEvent(new V1\ConnectProxyRequest(['context' => self::context('')]), null, new \stdClass(), 'bob');
        $this->dispatcher->dispatch($event);
        self::assertFalse($event->isDecided());
        $event->applyDefault();
        $answer = json_decode((new WebhookCodec())->encode(WebhookHandler::answer(V1\ConnectProxyResponse::class, $event), false), true);
        self::assertSame(['result' => ['user' => 'bob', 'info' => ['name' => 'Bob']]], $answer);
    }

    public function testDenyAndDisconnectAreFinalAndStopTheOtherListeners(): void
    {
        $later = false;
        $this->on(SubscribeEvent::class, fn (SubscribeEvent $e) => $e->deny(1001, 'closed for the night', true), 10);
        $this->on(SubscribeEvent::class, function (SubscribeEvent $e) use (&$later): void {
            $later = true;
            $e->allow();
        });
        $call = new V1\SubscribeProxyRequest(['context' => self::context(), 'channel' => 'chat:1']);
        self::assertSame(['error' => ['code' => 1001, 'message' => 'closed for the night', 'temporary' => true]], $this->answer(CallKind::Subscribe, $call));
        self::assertFalse($later);

        $this->on(PublishEvent::class, fn (PublishEvent $e) => $e->disconnect(4001, 'spam'));
        $call = new V1\PublishProxyRequest(['context' => self::context(), 'channel' => 'chat:1', 'data' => '{}']);
        self::assertSame(['disconnect' => ['code' => 4001, 'reason' => 'spam']], $this->answer(CallKind::Publish, $call));
    }

    public function testAWebhookErrorThrownByAListenerIsTheDenial(): void
    {
        $this->on(SubscribeEvent::class, fn () => throw WebhookError::notAvailable('the database is down'));
        $call = new V1\SubscribeProxyRequest(['context' => self::context(), 'channel' => 'chat:1']);
        self::assertSame(['error' => ['code' => 108, 'message' => 'the database is down', 'temporary' => true]], $this->answer(CallKind::Subscribe, $call));
    }

    public function testSubscribeAndPublishWithoutADecisionOrSecurityAreDenied103(): void
    {
        $sub = $this->answer(CallKind::Subscribe, new V1\SubscribeProxyRequest(['context' => self::context(), 'channel' => 'chat:1']));
        self::assertSame(103, $sub['error']['code']);
        self::assertStringContainsString('Symfony Security is not enabled', $sub['error']['message']);
        $pub = $this->answer(CallKind::Publish, new V1\PublishProxyRequest(['context' => self::context(), 'channel' => 'chat:1', 'data' => '{}']));
        self::assertSame(103, $pub['error']['code']);
    }

    public function testSubscribeAllowedWithOptionsAndPublishRewritten(): void
    {
        $this->on(SubscribeEvent::class, function (SubscribeEvent $e): void {
            self::assertSame(['chat:1', 'chat', 'tok'], [$e->getChannel(), $e->getNamespace(), $e->getToken()]);
            $e->allow(info: ['seat' => 3], expireAt: 1_800_000_000, joinLeave: true, recovery: false);
        });
        $call = new V1\SubscribeProxyRequest(['context' => self::context(), 'channel' => 'chat:1', 'token' => 'tok']);
        self::assertSame(['result' => ['info' => ['seat' => 3], 'expireAt' => '1800000000', 'joinLeave' => true, 'recovery' => false]], $this->answer(CallKind::Subscribe, $call));

        $this->on(PublishEvent::class, fn (PublishEvent $e) => $e->allow(['text' => strtoupper($e->getData()['text'])], skipHistory: true, tags: ['by' => 'alice'], idempotencyKey: 'k1'));
        $call = new V1\PublishProxyRequest(['context' => self::context(), 'channel' => 'chat:1', 'data' => '{"text":"hi"}']);
        self::assertSame(['result' => ['data' => ['text' => 'HI'], 'skipHistory' => true, 'tags' => ['by' => 'alice'], 'idempotencyKey' => 'k1']], $this->answer(CallKind::Publish, $call));

        // Allowed as is: the shortest yes, {"result": {}}.
        $this->dispatcher = new EventDispatcher();
        $this->on(PublishEvent::class, fn (PublishEvent $e) => $e->allow());
        self::assertSame('{"result":{}}', (new WebhookCodec())->encode((new WebhookHandler($this->dispatcher))->handle(CallKind::Publish, $call), false));
    }

    public function testRefreshIsNotExtendedUnlessAListenerExtendsIt(): void
    {
        self::assertSame(['result' => ['expired' => true]], $this->answer(CallKind::Refresh, new V1\RefreshProxyRequest(['context' => self::context()])));
        $this->on(SubRefreshEvent::class, fn (SubRefreshEvent $e) => $e->extend(1_800_000_600, ['renewed' => $e->getChannel()]));
        self::assertSame(
            ['result' => ['expireAt' => '1800000600', 'info' => ['renewed' => 'chat:1']]],
            $this->answer(CallKind::SubRefresh, new V1\SubRefreshProxyRequest(['context' => self::context(), 'channel' => 'chat:1'])),
        );
        $this->on(RefreshEvent::class, fn (RefreshEvent $e) => $e->extend(0));
        self::assertSame(['result' => []], $this->answer(CallKind::Refresh, new V1\RefreshProxyRequest(['context' => self::context()])));
    }

    public function testRpcListenerResultAndUnknownMethod(): void
    {
        self::assertSame(
            ['error' => ['code' => 104, 'message' => 'method not found: nope']],
            $this->answer(CallKind::Rpc, new V1\RpcProxyRequest(['context' => self::context(), 'method' => 'nope'])),
        );
        $this->on(RpcEvent::class, fn (RpcEvent $e) => $e->getMethod() === 'sum' ? $e->respond(array_sum($e->getData())) : null);
        self::assertSame(['result' => ['data' => 6]], $this->answer(CallKind::Rpc, new V1\RpcProxyRequest(['context' => self::context(), 'method' => 'sum', 'data' => '[1,2,3]'])));
    }

    public function testNotificationsReachListenersWithTheirEventIdAndGetAnEmptyAnswer(): void
    {
        $seen = [];
        $this->on(DisconnectEvent::class, function (DisconnectEvent $e) use (&$seen): void {
            $seen[] = [$e->getEventId(), $e->getUserId(), $e->getCode(), $e->getReason(), $e->getChannels(), $e->getTimeMs()];
        });
        $this->on(UnsubscribeEvent::class, function (UnsubscribeEvent $e) use (&$seen): void {
            $seen[] = [$e->getEventId(), $e->getChannel(), $e->getNamespace(), $e->getCode()];
        });
        $disconnect = new V1\NotifyDisconnectRequest(['context' => self::context(), 'event_id' => 'e-1', 'code' => 3000, 'reason' => 'normal', 'channels' => ['user:alice'], 'time' => 1_800_000_000_123]);
        self::assertSame([], $this->answer(CallKind::Disconnect, $disconnect));
        $unsubscribe = new V1\NotifyUnsubscribeRequest(['context' => self::context(), 'event_id' => 'e-2', 'channel' => 'chat:1', 'code' => 2000]);
        self::assertSame([], $this->answer(CallKind::Unsubscribe, $unsubscribe));
        self::assertSame([['e-1', 'alice', 3000, 'normal', ['user:alice'], 1_800_000_000_123], ['e-2', 'chat:1', 'chat', 2000]], $seen);
    }

    public function testANotificationListenerThatFailsFailsTheCallSoTheHubRetries(): void
    {
        $this->on(DisconnectEvent::class, fn () => throw new \RuntimeException('database down'));
        $this->expectException(\RuntimeException::class);
        (new WebhookHandler($this->dispatcher))->handle(CallKind::Disconnect, new V1\NotifyDisconnectRequest(['event_id' => 'e-1']));
    }
}
