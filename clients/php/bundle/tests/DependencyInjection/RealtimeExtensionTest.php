<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Tests\DependencyInjection;

use PHPUnit\Framework\TestCase;
use RealtimeHub\Bundle\DependencyInjection\RealtimeExtension;
use RealtimeHub\Bundle\Messenger\Broadcast;
use RealtimeHub\Bundle\Messenger\Publish;
use RealtimeHub\Bundle\Test\RecordingHubClient;
use RealtimeHub\Client\HubClient;
use RealtimeHub\Client\HubClientInterface;
use RealtimeHub\Client\Token\TokenSigner;
use Symfony\Component\Config\Definition\Exception\InvalidConfigurationException;
use Symfony\Component\DependencyInjection\ContainerBuilder;

final class RealtimeExtensionTest extends TestCase
{
    /** @param array<string, mixed> $config */
    private static function container(array $config): ContainerBuilder
    {
        $container = new ContainerBuilder();
        (new RealtimeExtension())->load([$config], $container);
        // The tests read the services the app would autowire.
        $container->getAlias(HubClientInterface::class)->setPublic(true);
        if ($container->hasAlias(TokenSigner::class)) {
            $container->getAlias(TokenSigner::class)->setPublic(true);
        }
        $container->compile();
        return $container;
    }

    public function testTheDefaultsGiveAClientOfTheLocalHubAndNoTokenSigner(): void
    {
        $container = self::container([]);
        self::assertInstanceOf(HubClient::class, $container->get(HubClientInterface::class));
        self::assertFalse($container->has(TokenSigner::class));
        self::assertSame(300, $container->getParameter('realtime.webhook.max_age'));
        self::assertNull($container->getParameter('realtime.webhook.secret'));
    }

    public function testAnHs256SecretGivesATokenSignerWhoseTokensCarryTheUser(): void
    {
        $container = self::container(['dsn' => 'grpc://127.0.0.1:9000', 'tokens' => ['secret' => str_repeat('s', 32), 'ttl' => 60]]);
        $signer = $container->get(TokenSigner::class);
        self::assertInstanceOf(TokenSigner::class, $signer);
        [$header, $payload, $signature] = explode('.', $signer->connectionToken('alice', 60));
        $claims = json_decode(base64_decode(strtr($payload, '-_', '+/')), true);
        self::assertSame('alice', $claims['sub']);
        $expected = rtrim(strtr(base64_encode(hash_hmac('sha256', "$header.$payload", str_repeat('s', 32), true)), '+/', '-_'), '=');
        self::assertSame($expected, $signature);
        self::assertSame(60, $container->getParameter('realtime.tokens.ttl'));
    }

    public function testAnRs256SignerWithoutAKeyIsRefusedByName(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage('RS256 needs a private_key');
        self::container(['tokens' => ['algorithm' => 'RS256', 'secret' => 'unused']])->get(TokenSigner::class);
    }

    public function testAnUnknownAlgorithmIsAConfigError(): void
    {
        $this->expectException(InvalidConfigurationException::class);
        self::container(['tokens' => ['algorithm' => 'none']]);
    }

    public function testTestTrueSwapsTheClientForThePublicRecorder(): void
    {
        $container = self::container(['test' => true, 'dsn' => 'ftp://never-used']);
        $client = $container->get('realtime.client');
        self::assertInstanceOf(RecordingHubClient::class, $client);
        self::assertSame($client, $container->get(HubClientInterface::class));
        self::assertSame($client, $container->get(RecordingHubClient::class));
        self::assertTrue($container->getParameter('realtime.test'));
        // The real one is kept (its %env()% stay used), never built unless asked for.
        self::assertTrue($container->has('realtime.hub_client'));
        self::assertFalse(self::container([])->getParameter('realtime.test'));
    }

    public function testTheCommandsAndTheMessengerHandlerAreRegistered(): void
    {
        $container = new ContainerBuilder();
        (new RealtimeExtension())->load([[]], $container);
        $commands = [];
        foreach ($container->findTaggedServiceIds('console.command') as $tags) {
            $commands[] = $tags[0]['command'];
        }
        sort($commands);
        self::assertSame(['realtime:channels', 'realtime:consume', 'realtime:disconnect', 'realtime:erase-user', 'realtime:info', 'realtime:presence', 'realtime:publish', 'realtime:token'], $commands);
        $handles = array_column($container->getDefinition('realtime.messenger.publish_handler')->getTag('messenger.message_handler'), 'method', 'handles');
        self::assertSame([Publish::class => 'publish', Broadcast::class => 'broadcast'], $handles);
    }

    public function testABadDsnIsRefusedWhenTheClientIsFirstUsed(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage('scheme "ftp"');
        self::container(['dsn' => 'ftp://127.0.0.1'])->get(HubClientInterface::class);
    }
}
