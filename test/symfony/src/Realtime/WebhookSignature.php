<?php

namespace App\Realtime;

use Symfony\Component\HttpFoundation\Request;

/** The hub's signature on a webhook request (docs/symfony.md: the same lines). */
final class WebhookSignature
{
    public function __construct(private string $secret, private int $windowSeconds = 300)
    {
    }

    /** True when the hub signed this body with our secret, dated within 300 s of our clock (a captured request cannot be replayed later). */
    public function verify(Request $request): bool
    {
        $timestamp = (string) $request->headers->get('X-Realtime-Timestamp');
        $signature = (string) $request->headers->get('X-Realtime-Signature');
        if (!ctype_digit($timestamp) || abs(time() - (int) $timestamp) > $this->windowSeconds) {
            return false;
        }
        $expected = 'sha256='.hash_hmac('sha256', $timestamp.'.'.$request->getContent(), $this->secret);

        return hash_equals($expected, $signature);
    }
}
