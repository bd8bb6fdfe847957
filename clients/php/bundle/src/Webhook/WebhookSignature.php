<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Webhook;

/**
 * The hub's signature on a webhook call: X-Realtime-Signature is `sha256=<hex>`, the
 * HMAC-SHA256 with the shared secret (the hub's proxySecret) of `<timestamp>.<body>`, and
 * X-Realtime-Timestamp the Unix second it was sent. The timestamp is inside the MAC, so a
 * captured call cannot be given a new date; one dated more than $maxAge seconds from our
 * clock, either way, is refused (a replay past the window fails).
 */
final class WebhookSignature
{
    public function __construct(private readonly ?string $secret, private readonly int $maxAge = 300)
    {
    }

    public function isConfigured(): bool
    {
        return $this->secret !== null && $this->secret !== '';
    }

    /**
     * True when the hub signed exactly this body with our secret within the window.
     *
     * @throws WebhookNotConfigured without a secret: there is nothing to check against, and
     *                              answering unsigned calls would let anyone log in as anyone
     */
    public function verify(string $timestamp, string $signature, string $body, ?int $now = null): bool
    {
        if (!$this->isConfigured()) {
            throw new WebhookNotConfigured();
        }
        if (!ctype_digit($timestamp) || \strlen($timestamp) > 12 || abs(($now ?? time()) - (int) $timestamp) > $this->maxAge) {
            return false;
        }

        return hash_equals(self::sign((string) $this->secret, (int) $timestamp, $body), $signature);
    }

    /** The header value the hub sends (for tests, and apps that call their own webhooks). */
    public static function sign(string $secret, int $timestamp, string $body): string
    {
        return 'sha256=' . hash_hmac('sha256', $timestamp . '.' . $body, $secret);
    }
}
