<?php

declare(strict_types=1);

namespace RealtimeHub\Client\Tests;

use PHPUnit\Framework\TestCase;
use RealtimeHub\Client\Token\TokenSigner;

/** The tokens' shape; that the hub accepts them is checked by test/php/php-client.test.ts. */
final class TokenSignerTest extends TestCase
{
    /** @return array{0: array<string, mixed>, 1: array<string, mixed>, 2: string} header, claims, signature */
    private static function parts(string $jwt): array
    {
        $p = explode('.', $jwt);
        self::assertCount(3, $p);
        $d = static fn (string $s) => base64_decode(strtr($s, '-_', '+/'), true);
        return [json_decode($d($p[0]), true), json_decode($d($p[1]), true), $d($p[2])];
    }

    public function testConnectionToken(): void
    {
        $jwt = TokenSigner::hs256('secret', kid: 'k1')->connectionToken('42', 60, ['name' => 'Zoë']);
        [$header, $claims, $sig] = self::parts($jwt);
        self::assertSame(['alg' => 'HS256', 'typ' => 'JWT', 'kid' => 'k1'], $header);
        self::assertSame('42', $claims['sub']);
        self::assertSame(['name' => 'Zoë'], $claims['info']);
        self::assertEqualsWithDelta(time() + 60, $claims['exp'], 2);
        self::assertArrayNotHasKey('channel', $claims);
        self::assertSame(hash_hmac('sha256', substr($jwt, 0, strrpos($jwt, '.')), 'secret', true), $sig);
        self::assertStringNotContainsString('=', $jwt);
    }

    public function testSubscriptionTokenWithoutExp(): void
    {
        [, $claims] = self::parts(TokenSigner::hs256('secret')->subscriptionToken('42', 'private:room', null, claims: ['iss' => 'app']));
        self::assertSame('private:room', $claims['channel']);
        self::assertSame('app', $claims['iss']);
        self::assertArrayNotHasKey('exp', $claims);
        self::assertArrayNotHasKey('info', $claims);
    }

    public function testEs256SignatureIsRawRAndS(): void
    {
        $key = openssl_pkey_new(['private_key_type' => OPENSSL_KEYTYPE_EC, 'curve_name' => 'prime256v1']);
        openssl_pkey_export($key, $pem);
        [$header, , $sig] = self::parts(TokenSigner::es256($pem)->connectionToken('u'));
        self::assertSame('ES256', $header['alg']);
        self::assertSame(64, strlen($sig));
    }

    public function testWrongKeyTypesAreRefused(): void
    {
        $rsa = openssl_pkey_new(['private_key_type' => OPENSSL_KEYTYPE_RSA, 'private_key_bits' => 2048]);
        openssl_pkey_export($rsa, $pem);
        $this->expectException(\InvalidArgumentException::class);
        TokenSigner::es256($pem);
    }

    public function testEmptySecretIsRefused(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        TokenSigner::hs256('');
    }
}
