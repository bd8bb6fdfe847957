<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Tests\Security;

use PHPUnit\Framework\TestCase;
use Realtime\V1;
use RealtimeHub\Bundle\Event\ConnectEvent;
use RealtimeHub\Bundle\Event\SubscribeEvent;
use RealtimeHub\Bundle\Security\ChannelSubject;
use RealtimeHub\Bundle\Security\RealtimePermission;
use RealtimeHub\Bundle\Webhook\CallKind;
use RealtimeHub\Bundle\Webhook\WebhookHandler;
use Symfony\Component\EventDispatcher\EventDispatcher;
use Symfony\Component\Security\Core\Authentication\Token\Storage\TokenStorage;
use Symfony\Component\Security\Core\Authentication\Token\UsernamePasswordToken;
use Symfony\Component\Security\Core\Authorization\AuthorizationCheckerInterface;
use Symfony\Component\Security\Core\User\InMemoryUser;

/** Without a listener's decision, subscribe and publish ask Security; connect takes the Security user. */
final class VoterBridgeTest extends TestCase
{
    /** @var list<array{string, ChannelSubject}> */
    private array $asked = [];

    protected function setUp(): void
    {
        if (!interface_exists(AuthorizationCheckerInterface::class)) {
            self::markTestSkipped('symfony/security-core is not installed');
        }
    }

    private function checker(): AuthorizationCheckerInterface
    {
        return new class ($this->asked) implements AuthorizationCheckerInterface {
            /** @param list<array{string, ChannelSubject}> $asked */
            public function __construct(private array &$asked)
            {
            }

            public function isGranted($attribute, $subject = null): bool
            {
                $this->asked[] = [$attribute, $subject];

                // An app's voter: a user's own channel only.
                return $subject instanceof ChannelSubject && $subject->channel === 'user:' . $subject->userId;
            }
        };
    }

    private function handler(EventDispatcher $dispatcher = new EventDispatcher(), ?TokenStorage $tokens = null): WebhookHandler
    {
        return new WebhookHandler($dispatcher, null, $tokens, $this->checker());
    }

    public function testTheAttributeNames(): void
    {
        self::assertSame('REALTIME_SUBSCRIBE', RealtimePermission::SUBSCRIBE);
        self::assertSame('REALTIME_PUBLISH', RealtimePermission::PUBLISH);
    }

    public function testSubscribeAsksTheVoterWithAChannelSubject(): void
    {
        $context = new V1\ProxyContext(['client' => 'c-1', 'user' => '42']);
        $own = $this->handler()->handle(CallKind::Subscribe, new V1\SubscribeProxyRequest(['context' => $context, 'channel' => 'user:42']));
        self::assertNotNull($own->getResult());
        $other = $this->handler()->handle(CallKind::Subscribe, new V1\SubscribeProxyRequest(['context' => $context, 'channel' => 'user:43']));
        self::assertSame([103, '42 may not subscribe to user:43'], [$other->getError()->getCode(), $other->getError()->getMessage()]);

        [$attribute, $subject] = $this->asked[0];
        self::assertSame(RealtimePermission::SUBSCRIBE, $attribute);
        self::assertSame(['user:42', 'user', '42', 'c-1', null], [$subject->channel, $subject->namespace, $subject->userId, $subject->clientId, $subject->data]);
        self::assertInstanceOf(SubscribeEvent::class, $subject->event);
    }

    public function testPublishAsksTheVoterWithTheDecodedData(): void
    {
        $call = new V1\PublishProxyRequest(['context' => new V1\ProxyContext(['user' => '']), 'channel' => 'chat:1', 'data' => '{"text":"hi"}']);
        $answer = $this->handler()->handle(CallKind::Publish, $call);
        self::assertSame([103, 'an anonymous connection may not publish to chat:1'], [$answer->getError()->getCode(), $answer->getError()->getMessage()]);
        self::assertSame(RealtimePermission::PUBLISH, $this->asked[0][0]);
        self::assertSame(['text' => 'hi'], $this->asked[0][1]->data);
    }

    public function testAListenersDecisionComesBeforeTheVoter(): void
    {
        $dispatcher = new EventDispatcher();
        $dispatcher->addListener(SubscribeEvent::class, fn (SubscribeEvent $e) => $e->allow());
        $answer = $this->handler($dispatcher)->handle(CallKind::Subscribe, new V1\SubscribeProxyRequest(['context' => new V1\ProxyContext(['user' => '42']), 'channel' => 'user:43']));
        self::assertNotNull($answer->getResult());
        self::assertSame([], $this->asked);
    }

    public function testConnectIsTheSecurityUserOfTheRequest(): void
    {
        $tokens = new TokenStorage();
        $user = new InMemoryUser('alice', null, ['ROLE_USER']);
        $tokens->setToken(new UsernamePasswordToken($user, 'main', ['ROLE_USER']));
        $seen = null;
        $dispatcher = new EventDispatcher();
        $dispatcher->addListener(ConnectEvent::class, function (ConnectEvent $e) use (&$seen): void {
            $seen = $e->getSecurityUser();
        });
        $answer = $this->handler($dispatcher, $tokens)->handle(CallKind::Connect, new V1\ConnectProxyRequest(['context' => new V1\ProxyContext()]));
        self::assertSame('alice', $answer->getResult()->getUser());
        self::assertSame($user, $seen);

        $anonymous = $this->handler(new EventDispatcher(), new TokenStorage())->handle(CallKind::Connect, new V1\ConnectProxyRequest());
        self::assertSame(101, $anonymous->getError()->getCode());
    }
}
