<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Tests\Webhook;

use PHPUnit\Framework\TestCase;
use RealtimeHub\Bundle\Webhook\WebhookNotConfigured;
use RealtimeHub\Bundle\Webhook\WebhookSignature;

final class WebhookSignatureTest extends TestCase
{
    private const SECRET = 'the-hubs-proxy-secret';
    private const BODY = '{"context":{"client":"c-1"},"channel":"user:42"}';
    private const NOW = 1_800_000_000;

    private static function verify(string $timestamp, string $signature, string $body = self::BODY, int $maxAge = 300): bool
    {
        return (new WebhookSignature(self::SECRET, $maxAge))->verify($timestamp, $signature, $body, self::NOW);
    }

    public function testTheHubsSignatureIsTheHmacOfTimestampDotBody(): void
    {
        // The value src/proxy/signature.ts gives for this secret, time and body.
        self::assertSame('sha256=' . hash_hmac('sha256', self::NOW . '.' . self::BODY, self::SECRET), WebhookSignature::sign(self::SECRET, self::NOW, self::BODY));
        self::assertTrue(self::verify((string) self::NOW, WebhookSignature::sign(self::SECRET, self::NOW, self::BODY)));
    }

    public function testAnUnsignedCallIsRefused(): void
    {
        self::assertFalse(self::verify('', ''));
        self::assertFalse(self::verify((string) self::NOW, ''));
    }

    public function testATamperedBodyOrAnotherSecretIsRefused(): void
    {
        $signature = WebhookSignature::sign(self::SECRET, self::NOW, self::BODY);
        self::assertFalse(self::verify((string) self::NOW, $signature, str_replace('42', '43', self::BODY)));
        self::assertFalse(self::verify((string) self::NOW, WebhookSignature::sign('another-secret', self::NOW, self::BODY)));
        // The timestamp is inside the MAC: re-dating a captured call breaks it.
        self::assertFalse(self::verify((string) (self::NOW + 1), $signature));
        // Without its sha256= prefix, or in upper case: not the hub's form.
        self::assertFalse(self::verify((string) self::NOW, substr($signature, 7)));
        self::assertFalse(self::verify((string) self::NOW, strtoupper($signature)));
    }

    public function testTheReplayWindowIsMaxAgeEitherWay(): void
    {
        foreach ([-300, -1, 0, 1, 300] as $skew) {
            $ts = self::NOW + $skew;
            self::assertTrue(self::verify((string) $ts, WebhookSignature::sign(self::SECRET, $ts, self::BODY)), "skew $skew s is inside the window");
        }
        foreach ([-301, -3600, 301] as $skew) {
            $ts = self::NOW + $skew;
            self::assertFalse(self::verify((string) $ts, WebhookSignature::sign(self::SECRET, $ts, self::BODY)), "skew $skew s is outside the window");
        }
        $old = self::NOW - 100;
        self::assertFalse(self::verify((string) $old, WebhookSignature::sign(self::SECRET, $old, self::BODY), self::BODY, 60), 'max_age 60');
    }

    public function testATimestampThatIsNotUnixSecondsIsRefused(): void
    {
        foreach (['now', '-5', '1.8e9', ' ' . self::NOW, '99999999999999999999'] as $ts) {
            self::assertFalse(self::verify($ts, 'sha256=' . hash_hmac('sha256', $ts . '.' . self::BODY, self::SECRET)), $ts);
        }
    }

    public function testWithoutASecretItRefusesToRunWithAClearError(): void
    {
        foreach ([null, ''] as $secret) {
            $signature = new WebhookSignature($secret);
            self::assertFalse($signature->isConfigured());
            try {
                $signature->verify((string) self::NOW, WebhookSignature::sign('', self::NOW, self::BODY), self::BODY, self::NOW);
                self::fail('verified without a secret');
            } catch (WebhookNotConfigured $e) {
                self::assertStringContainsString('realtime.webhook.secret is not set', $e->getMessage());
                self::assertStringContainsString('proxySecret', $e->getMessage());
            }
        }
    }
}
