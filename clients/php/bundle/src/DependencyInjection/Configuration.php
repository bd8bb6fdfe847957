<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\DependencyInjection;

use Symfony\Component\Config\Definition\Builder\TreeBuilder;
use Symfony\Component\Config\Definition\ConfigurationInterface;

/**
 * config/packages/realtime.yaml:
 *
 *     realtime:
 *         dsn: '%env(REALTIME_DSN)%'            # http://127.0.0.1:8000, http+json://, grpc://host:9000, https://, grpcs://
 *         api_key: '%env(REALTIME_API_KEY)%'
 *         tokens:
 *             algorithm: HS256                  # HS256 (secret), RS256 or ES256 (private_key)
 *             secret: '%env(REALTIME_TOKEN_SECRET)%'
 *         webhook:
 *             secret: '%env(REALTIME_WEBHOOK_SECRET)%'
 *
 * config/packages/test/realtime.yaml, for the app's own tests (RealtimeHub\Bundle\Test):
 *
 *     realtime:
 *         test: true                            # realtime.client records calls instead of calling the hub
 */
final class Configuration implements ConfigurationInterface
{
    public function getConfigTreeBuilder(): TreeBuilder
    {
        $tree = new TreeBuilder('realtime');
        $tree->getRootNode()
            ->children()
                ->scalarNode('dsn')
                    ->info('Where the hub\'s server API is: http(s):// (protobuf), http(s)+json://, grpc:// (h2c) or grpcs://; an API key may ride in the user part')
                    ->defaultValue('http://127.0.0.1:8000')
                    ->cannotBeEmpty()
                ->end()
                ->scalarNode('api_key')->info('The hub\'s apiKey; "" for none (or the DSN\'s user part)')->defaultValue('')->end()
                ->floatNode('timeout')->info('Seconds for a whole call')->defaultValue(5.0)->min(0.001)->end()
                ->floatNode('connect_timeout')->info('Seconds to connect (TCP and TLS)')->defaultValue(2.0)->min(0.001)->end()
                ->integerNode('attempts')->info('Tries per call; only temporary errors are tried again, with the same idempotency key')->defaultValue(3)->min(1)->end()
                ->scalarNode('ca_file')->info('PEM of the CA that signed the hub\'s certificate; null: the system\'s')->defaultNull()->end()
                ->booleanNode('verify_tls')->info('Check the hub\'s certificate; false only in development')->defaultTrue()->end()
                ->scalarNode('cert_file')->info('Client certificate (PEM) for a hub asking for one')->defaultNull()->end()
                ->scalarNode('key_file')->info('Private key of cert_file')->defaultNull()->end()
                ->arrayNode('tokens')
                    ->info('Minting connection and subscription tokens (RealtimeHub\\Client\\Token\\TokenSigner); off when neither secret nor private_key is set')
                    ->addDefaultsIfNotSet()
                    ->children()
                        ->enumNode('algorithm')->values(['HS256', 'RS256', 'ES256'])->defaultValue('HS256')->end()
                        ->scalarNode('secret')->info('HS256: the hub\'s tokenHmacSecret')->defaultNull()->end()
                        ->scalarNode('private_key')->info('RS256/ES256: a PEM private key, or the path of a PEM file')->defaultNull()->end()
                        ->scalarNode('key_id')->info('The JWT header\'s kid')->defaultNull()->end()
                        ->integerNode('ttl')->info('Seconds a minted token is valid')->defaultValue(3600)->min(1)->end()
                    ->end()
                ->end()
                ->booleanNode('test')
                    ->info('Replace realtime.client by RealtimeHub\\Bundle\\Test\\RecordingHubClient (no hub; for the app\'s tests, with the RealtimeAssertions trait)')
                    ->defaultFalse()
                ->end()
                ->arrayNode('webhook')
                    ->info('The webhook side of the Symfony-first mode: the hub\'s proxySecret, and how old a signed call may be')
                    ->addDefaultsIfNotSet()
                    ->children()
                        ->scalarNode('secret')->defaultNull()->end()
                        ->integerNode('max_age')->info('Seconds; the hub signs each call with its time')->defaultValue(300)->min(1)->end()
                    ->end()
                ->end()
            ->end();
        return $tree;
    }
}
