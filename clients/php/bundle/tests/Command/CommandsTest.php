<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Tests\Command;

use PHPUnit\Framework\TestCase;
use Realtime\V1\ClientInfo;
use Realtime\V1\Join;
use Realtime\V1\Publication;
use Realtime\V1\SubscribeResponse;
use RealtimeHub\Bundle\Command\ChannelsCommand;
use RealtimeHub\Bundle\Command\ConsumeCommand;
use RealtimeHub\Bundle\Command\DisconnectCommand;
use RealtimeHub\Bundle\Command\InfoCommand;
use RealtimeHub\Bundle\Command\PresenceCommand;
use RealtimeHub\Bundle\Command\PublishCommand;
use RealtimeHub\Bundle\Command\TokenCommand;
use RealtimeHub\Bundle\Consumer\ClientJoinedEvent;
use RealtimeHub\Bundle\Consumer\PublicationReceivedEvent;
use RealtimeHub\Bundle\Test\RecordingHubClient;
use RealtimeHub\Client\Exception\HubException;
use RealtimeHub\Client\Exception\LimitExceededException;
use RealtimeHub\Client\Exception\PermissionDeniedException;
use RealtimeHub\Client\Token\TokenSigner;
use Symfony\Component\Console\Command\Command;
use Symfony\Component\Console\Tester\CommandTester;
use Symfony\Component\EventDispatcher\EventDispatcher;
use Symfony\Component\Messenger\Envelope;
use Symfony\Component\Messenger\MessageBusInterface;

final class CommandsTest extends TestCase
{
    private RecordingHubClient $hub;

    protected function setUp(): void
    {
        $this->hub = new RecordingHubClient();
    }

    /** @param array<string, mixed> $input */
    private static function exec(Command $command, array $input): CommandTester
    {
        $t = new CommandTester($command);
        $t->execute($input, ['capture_stderr_separately' => true]);
        return $t;
    }

    public function testPublishSendsTheJsonWithTagsKeyAndSkipHistory(): void
    {
        $t = self::exec(new PublishCommand($this->hub), ['channel' => 'news', 'data' => '{"title":"Hi"}', '--tag' => ['kind=headline', 'lang=en=GB'], '--idempotency-key' => 'k1', '--skip-history' => true]);
        self::assertSame(0, $t->getStatusCode(), $t->getErrorOutput());
        self::assertStringContainsString('Published into news: offset 1, epoch recording, idempotency key k1', $t->getDisplay());
        $p = $this->hub->publications('news')[0];
        self::assertSame('{"title":"Hi"}', $p->payload);
        self::assertSame(['kind' => 'headline', 'lang' => 'en=GB'], $p->tags);
        self::assertSame('k1', $p->idempotencyKey);
        self::assertTrue($p->skipHistory);
    }

    public function testPublishRefusesBadInputByName(): void
    {
        $t = self::exec(new PublishCommand($this->hub), ['channel' => 'news', 'data' => '{title']);
        self::assertSame(2, $t->getStatusCode());
        self::assertStringContainsString('<data> is not valid JSON', $t->getErrorOutput());
        $t = self::exec(new PublishCommand($this->hub), ['channel' => 'news', 'data' => '{}', '--tag' => ['novalue']]);
        self::assertSame(2, $t->getStatusCode());
        self::assertStringContainsString('--tag "novalue" is not key=value', $t->getErrorOutput());
        $t = self::exec(new PublishCommand($this->hub), ['channel' => 'news', 'data' => '{}', '--tag' => ['=v']]);
        self::assertSame(2, $t->getStatusCode());
        self::assertSame([], $this->hub->publications());
        // --raw: bytes as they are.
        self::assertSame(0, self::exec(new PublishCommand($this->hub), ['channel' => 'news', 'data' => 'not json', '--raw' => true])->getStatusCode());
        self::assertSame('not json', $this->hub->publications()[0]->payload);
    }

    public function testAHubErrorPrintsTheHubsCodeAndMessageAndExitsNonZero(): void
    {
        $t = self::exec(new PublishCommand($this->hub), ['channel' => 'bad name', 'data' => '1']);
        self::assertSame(1, $t->getStatusCode());
        self::assertStringContainsString('realtime-hub error 107: invalid channel name "bad name"', $t->getErrorOutput());
        $this->hub->failNext(new PermissionDeniedException(HubException::PERMISSION_DENIED, 'apikey refused', false));
        $t = self::exec(new InfoCommand($this->hub), []);
        self::assertSame(1, $t->getStatusCode());
        self::assertStringContainsString('realtime-hub error 103: apikey refused', $t->getErrorOutput());
    }

    public function testPresenceChannelsInfoAndDisconnectPrintWhatTheHubSays(): void
    {
        $this->hub->setPresence('chat:1', [new ClientInfo(['user' => 'alice', 'client' => 'c1', 'conn_info' => '{"name":"Alice"}'])]);
        $t = self::exec(new PresenceCommand($this->hub), ['channel' => 'chat:1']);
        self::assertMatchesRegularExpression('/c1\s+\|\s+alice\s+\|\s+\{"name":"Alice"\}/', $t->getDisplay());
        self::assertStringContainsString('1 clients in chat:1', $t->getDisplay());
        self::assertStringContainsString('chat:1: 1 clients, 1 users', self::exec(new PresenceCommand($this->hub), ['channel' => 'chat:1', '--stats' => true])->getDisplay());
        self::assertMatchesRegularExpression('/chat:1\s+\|\s+1/', self::exec(new ChannelsCommand($this->hub), ['pattern' => 'chat:*'])->getDisplay());
        self::assertStringContainsString('0 channels', self::exec(new ChannelsCommand($this->hub), ['pattern' => 'news'])->getDisplay());
        self::assertMatchesRegularExpression('/recording\s+\|\s+recording/', self::exec(new InfoCommand($this->hub), [])->getDisplay());

        $t = self::exec(new DisconnectCommand($this->hub), ['user' => 'bob', '--client' => 'c9', '--code' => '3500', '--reason' => 'bye']);
        self::assertSame(0, $t->getStatusCode());
        self::assertSame([['user' => 'bob', 'client' => 'c9', 'code' => 3500, 'reason' => 'bye']], $this->hub->disconnects());
        self::assertSame(2, self::exec(new DisconnectCommand($this->hub), ['user' => 'bob', '--code' => 'x'])->getStatusCode());
    }

    public function testTokenMintsConnectionAndSubscriptionTokensAndRefusesBadInfo(): void
    {
        $secret = str_repeat('s', 32);
        $command = new TokenCommand(static fn () => TokenSigner::hs256($secret), 600);
        $t = self::exec($command, ['user' => 'alice', '--info' => '{"name":"Alice"}']);
        self::assertSame(0, $t->getStatusCode(), $t->getErrorOutput());
        $claims = self::claims(trim($t->getDisplay()));
        self::assertSame('alice', $claims['sub']);
        self::assertSame(['name' => 'Alice'], $claims['info']);
        self::assertEqualsWithDelta(time() + 600, $claims['exp'], 5);
        self::assertArrayNotHasKey('channel', $claims);

        $claims = self::claims(trim(self::exec($command, ['user' => 'alice', '--channel' => 'private:1', '--ttl' => '60'])->getDisplay()));
        self::assertSame('private:1', $claims['channel']);
        self::assertEqualsWithDelta(time() + 60, $claims['exp'], 5);

        $t = self::exec($command, ['user' => 'alice', '--info' => '{name}']);
        self::assertSame(2, $t->getStatusCode());
        self::assertStringContainsString('--info is not valid JSON', $t->getErrorOutput());
        self::assertSame('', $t->getDisplay());
        self::assertSame(2, self::exec($command, ['user' => 'alice', '--ttl' => '0'])->getStatusCode());
        $t = self::exec(new TokenCommand(static fn () => null, 600), ['user' => 'alice']);
        self::assertSame(2, $t->getStatusCode());
        self::assertStringContainsString('needs realtime.tokens.secret', $t->getErrorOutput());
    }

    public function testConsumeDispatchesEventsUntilTheLimitAndSurvivesAFailingListener(): void
    {
        foreach (['1', '{"fail":true}', '3', '4'] as $i => $data) {
            $this->hub->pushEvent(new SubscribeResponse(['channel' => 'news', 'publication' => new Publication(['data' => $data, 'offset' => $i + 1, 'tags' => ['k' => 'v'], 'info' => new ClientInfo(['user' => 'alice', 'client' => 'c1'])])]));
        }
        $this->hub->pushEvent(new SubscribeResponse(['channel' => 'news', 'join' => new Join(['info' => new ClientInfo(['user' => 'bob', 'client' => 'c2'])])]));
        $dispatcher = new EventDispatcher();
        $got = [];
        $dispatcher->addListener(PublicationReceivedEvent::class, static function (PublicationReceivedEvent $e) use (&$got): void {
            if ($e->data === '{"fail":true}') {
                throw new \RuntimeException('listener bug');
            }
            $got[] = [$e->channel, $e->json(), $e->offset, $e->tags, $e->user, $e->isFromClient()];
        });
        $t = self::exec(new ConsumeCommand($this->hub, $dispatcher), ['channels' => ['news'], '--limit' => '3']);
        self::assertSame(0, $t->getStatusCode(), $t->getErrorOutput());
        self::assertSame([['news', 1, 1, ['k' => 'v'], 'alice', true], ['news', 3, 3, ['k' => 'v'], 'alice', true]], $got);
        self::assertStringContainsString('A handler of RealtimeHub\Bundle\Consumer\PublicationReceivedEvent in news failed: RuntimeException: listener bug', $t->getErrorOutput());
        self::assertStringContainsString('Consuming news', $t->getDisplay());
        self::assertStringContainsString('Stopped after 3 events (--limit 3)', $t->getDisplay());

        // What is left: "4" and bob's join, delivered only with --join-leave.
        $joins = [];
        $dispatcher->addListener(ClientJoinedEvent::class, static function (ClientJoinedEvent $e) use (&$joins): void {
            $joins[] = $e->user;
        });
        $this->hub->pushEvent(new SubscribeResponse(['channel' => 'news', 'join' => new Join(['info' => new ClientInfo(['user' => 'carol', 'client' => 'c3'])])]));
        self::exec(new ConsumeCommand($this->hub, $dispatcher), ['channels' => ['news'], '--join-leave' => true]);
        self::assertSame(['bob', 'carol'], $joins);
    }

    public function testConsumeWithMessengerDispatchesOnTheBus(): void
    {
        $this->hub->pushEvent(new SubscribeResponse(['channel' => 'news', 'publication' => new Publication(['data' => '"hi"'])]));
        $bus = new class () implements MessageBusInterface {
            /** @var list<object> */
            public array $messages = [];

            public function dispatch(object $message, array $stamps = []): Envelope
            {
                $this->messages[] = $message;
                return new Envelope($message);
            }
        };
        $dispatcher = new EventDispatcher();
        $dispatcher->addListener(PublicationReceivedEvent::class, static fn () => self::fail('dispatched as an event'));
        $t = self::exec(new ConsumeCommand($this->hub, $dispatcher, $bus), ['channels' => ['news'], '--messenger' => true]);
        self::assertSame(0, $t->getStatusCode(), $t->getErrorOutput());
        self::assertCount(1, $bus->messages);
        self::assertInstanceOf(PublicationReceivedEvent::class, $bus->messages[0]);
        self::assertSame('hi', $bus->messages[0]->json());
        self::assertFalse($bus->messages[0]->isFromClient());
        self::assertSame(2, self::exec(new ConsumeCommand($this->hub, $dispatcher), ['channels' => ['news'], '--messenger' => true])->getStatusCode());
    }

    public function testConsumeEndsWithTheHubsErrorWhenTheStreamFails(): void
    {
        $this->hub->failNext(new LimitExceededException(HubException::LIMIT_EXCEEDED, 'consumer too slow', false));
        $t = self::exec(new ConsumeCommand($this->hub, new EventDispatcher()), ['channels' => ['news']]);
        self::assertSame(1, $t->getStatusCode());
        self::assertStringContainsString('realtime-hub error 106: consumer too slow', $t->getErrorOutput());
        self::assertSame(2, self::exec(new ConsumeCommand($this->hub, new EventDispatcher()), ['channels' => ['news'], '--limit' => '-1'])->getStatusCode());
    }

    /** @return array<string, mixed> */
    private static function claims(string $jwt): array
    {
        $parts = explode('.', $jwt);
        self::assertCount(3, $parts, $jwt);
        return json_decode(base64_decode(strtr($parts[1], '-_', '+/')), true, 512, \JSON_THROW_ON_ERROR);
    }
}
