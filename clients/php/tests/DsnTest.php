<?php

declare(strict_types=1);

namespace RealtimeHub\Client\Tests;

use PHPUnit\Framework\TestCase;
use RealtimeHub\Client\HubClient;
use RealtimeHub\Client\Transport\GrpcTransport;
use RealtimeHub\Client\Transport\HttpTransport;

final class DsnTest extends TestCase
{
    /** @return array<string, array{string, class-string, string, bool}> */
    public static function dsns(): array
    {
        return [
            'http' => ['http://127.0.0.1:8000', HttpTransport::class, 'http://127.0.0.1:8000', false],
            'https with a path' => ['https://hub.example/api/', HttpTransport::class, 'https://hub.example/api', false],
            'http+json' => ['http+json://127.0.0.1:8000', HttpTransport::class, 'http://127.0.0.1:8000', true],
            'https+json' => ['https+json://hub.example', HttpTransport::class, 'https://hub.example', true],
            'grpc' => ['grpc://127.0.0.1:9000', GrpcTransport::class, 'http://127.0.0.1:9000', false],
            'grpcs' => ['GRPCS://hub.example:443', GrpcTransport::class, 'https://hub.example:443', false],
            'ipv6' => ['grpc://[::1]:9000', GrpcTransport::class, 'http://[::1]:9000', false],
        ];
    }

    /** @dataProvider dsns */
    public function testEachSchemePicksItsTransport(string $dsn, string $class, string $baseUrl, bool $json): void
    {
        $transport = self::field(HubClient::fromDsn($dsn), 'transport');
        self::assertInstanceOf($class, $transport);
        self::assertSame($baseUrl, self::field($transport, 'baseUrl'));
        if ($transport instanceof HttpTransport) {
            self::assertSame($json, self::field($transport, 'json'));
        }
    }

    public function testTheApiKeyMayRideInTheDsnButAnExplicitOneWins(): void
    {
        $fromDsn = self::field(HubClient::fromDsn('http://s3cr%2Ft@127.0.0.1:8000'), 'transport');
        self::assertSame('s3cr/t', self::field($fromDsn, 'apiKey'));
        self::assertSame('http://127.0.0.1:8000', self::field($fromDsn, 'baseUrl'));
        $explicit = self::field(HubClient::fromDsn('http://s3cret@127.0.0.1:8000', 'other'), 'transport');
        self::assertSame('other', self::field($explicit, 'apiKey'));
    }

    public function testAnUnknownSchemeIsRefusedByName(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage('scheme "ws" is not one of');
        HubClient::fromDsn('ws://127.0.0.1:8000');
    }

    public function testANonUrlIsRefusedWithoutShowingItsKey(): void
    {
        try {
            HubClient::fromDsn('http://topsecret@');
            self::fail('no exception');
        } catch (\InvalidArgumentException $e) {
            self::assertStringNotContainsString('topsecret', $e->getMessage());
            self::assertStringContainsString('***', $e->getMessage());
        }
    }

    private static function field(object $object, string $name): mixed
    {
        $property = new \ReflectionProperty($object, $name);
        $property->setAccessible(true);
        return $property->getValue($object);
    }
}
