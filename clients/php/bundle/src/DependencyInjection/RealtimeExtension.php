<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\DependencyInjection;

use RealtimeHub\Bundle\Test\RecordingHubClient;
use RealtimeHub\Client\HubClient;
use RealtimeHub\Client\HubClientInterface;
use RealtimeHub\Client\Token\TokenSigner;
use RealtimeHub\Client\Transport\TransportOptions;
use Symfony\Component\Config\FileLocator;
use Symfony\Component\DependencyInjection\ContainerBuilder;
use Symfony\Component\DependencyInjection\Definition;
use Symfony\Component\DependencyInjection\Loader\PhpFileLoader;
use Symfony\Component\HttpKernel\DependencyInjection\Extension;

/**
 * Turns `realtime:` into services: realtime.client (HubClientInterface; the RecordingHubClient
 * with `test: true`), realtime.token_signer, and the rest in config/*.php.
 */
final class RealtimeExtension extends Extension
{
    public function getAlias(): string
    {
        return 'realtime';
    }

    /** @param array<array<string, mixed>> $configs */
    public function load(array $configs, ContainerBuilder $container): void
    {
        $config = $this->processConfiguration(new Configuration(), $configs);

        $options = (new Definition(TransportOptions::class))->setArguments([
            '$timeout' => $config['timeout'],
            '$connectTimeout' => $config['connect_timeout'],
            '$caFile' => $config['ca_file'],
            '$verifyTls' => $config['verify_tls'],
            '$certFile' => $config['cert_file'],
            '$keyFile' => $config['key_file'],
        ]);
        $hubClient = (new Definition(HubClient::class))
            ->setFactory([HubClient::class, 'fromDsn'])
            ->setArguments([$config['dsn'], $config['api_key'], $options, $config['attempts']]);
        if ($config['test']) {
            // Public, so a KernelTestCase reaches it whatever uses it; reset between two requests.
            $container->register('realtime.client', RecordingHubClient::class)
                ->setPublic(true)
                ->addTag('kernel.reset', ['method' => 'reset']);
            $container->setAlias(RecordingHubClient::class, 'realtime.client')->setPublic(true);
            // The real client stays, public and never built unless a test asks for it: removed,
            // it would leave %env(REALTIME_DSN)% unused, which fails the container's dump.
            $container->setDefinition('realtime.hub_client', $hubClient->setPublic(true));
        } else {
            $container->setDefinition('realtime.client', $hubClient);
        }
        $container->setAlias(HubClientInterface::class, 'realtime.client');
        $container->setParameter('realtime.test', $config['test']);

        $tokens = $config['tokens'];
        if ($tokens['secret'] !== null || $tokens['private_key'] !== null) {
            $container->register('realtime.token_signer', TokenSigner::class)
                ->setFactory([TokenSignerFactory::class, 'create'])
                ->setArguments([$tokens['algorithm'], $tokens['secret'], $tokens['private_key'], $tokens['key_id']]);
            $container->setAlias(TokenSigner::class, 'realtime.token_signer');
        }
        $container->setParameter('realtime.tokens.ttl', $tokens['ttl']);
        $container->setParameter('realtime.webhook.secret', $config['webhook']['secret']);
        $container->setParameter('realtime.webhook.max_age', $config['webhook']['max_age']);

        $loader = new PhpFileLoader($container, new FileLocator(\dirname(__DIR__, 2) . '/config'));
        $loader->load('services.php');
        $loader->load('webhook.php');
    }
}
