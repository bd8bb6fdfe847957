<?php

declare(strict_types=1);

namespace RealtimeHub\Client\Token;

/**
 * Mints the JWTs browsers connect and subscribe with, as the hub verifies them
 * (tokenHmacSecret for HS256, tokenPublicKey for RS256/ES256):
 * a connection token carries `sub` (the user), `exp` and optionally `info` (JSON, shown in
 * presence); a subscription token adds `channel`, and only opens that channel for that user.
 */
final class TokenSigner
{
    private function __construct(
        private readonly string $alg,
        /** @var string|\OpenSSLAsymmetricKey */
        private readonly mixed $key,
        private readonly ?string $kid,
    ) {
    }

    /** HMAC-SHA256 with the hub's tokenHmacSecret (at least 32 bytes is wise). */
    public static function hs256(string $secret, ?string $kid = null): self
    {
        if ($secret === '') {
            throw new \InvalidArgumentException('empty HMAC secret');
        }
        return new self('HS256', $secret, $kid);
    }

    /** RSA (PKCS#1 v1.5, SHA-256) with a PEM private key; the hub has the public key (tokenPublicKey). Needs ext-openssl. */
    public static function rs256(string $privateKeyPem, ?string $kid = null): self
    {
        return new self('RS256', self::privateKey($privateKeyPem, OPENSSL_KEYTYPE_RSA), $kid);
    }

    /** ECDSA P-256 with SHA-256 with a PEM private key. Needs ext-openssl. */
    public static function es256(string $privateKeyPem, ?string $kid = null): self
    {
        return new self('ES256', self::privateKey($privateKeyPem, OPENSSL_KEYTYPE_EC), $kid);
    }

    /**
     * A connection token for $user ("" only when the hub allows anonymous connections), valid
     * for $ttlSeconds (null: no exp, which a hub with requireTokenExp refuses).
     *
     * @param mixed $info JSON-encodable connection info, or null for none
     * @param array<string, mixed> $claims more claims (iss, aud, ...)
     */
    public function connectionToken(string $user, ?int $ttlSeconds = 3600, mixed $info = null, array $claims = []): string
    {
        return $this->sign(['sub' => $user] + $this->common($ttlSeconds, $info) + $claims);
    }

    /**
     * A subscription token: lets $user subscribe to $channel (a channel whose namespace asks for one).
     *
     * @param mixed $info JSON-encodable channel info, or null for none
     * @param array<string, mixed> $claims
     */
    public function subscriptionToken(string $user, string $channel, ?int $ttlSeconds = 3600, mixed $info = null, array $claims = []): string
    {
        return $this->sign(['sub' => $user, 'channel' => $channel] + $this->common($ttlSeconds, $info) + $claims);
    }

    /** @return array<string, mixed> */
    private function common(?int $ttlSeconds, mixed $info): array
    {
        $c = ['iat' => time()];
        if ($ttlSeconds !== null) {
            $c['exp'] = time() + $ttlSeconds;
        }
        if ($info !== null) {
            $c['info'] = $info;
        }
        return $c;
    }

    /** @param array<string, mixed> $claims */
    public function sign(array $claims): string
    {
        $header = ['alg' => $this->alg, 'typ' => 'JWT'];
        if ($this->kid !== null) {
            $header['kid'] = $this->kid;
        }
        $input = self::b64(self::json($header)) . '.' . self::b64(self::json($claims));
        return $input . '.' . self::b64($this->signature($input));
    }

    private function signature(string $input): string
    {
        if ($this->alg === 'HS256') {
            return hash_hmac('sha256', $input, $this->key, true);
        }
        if (!openssl_sign($input, $sig, $this->key, OPENSSL_ALGO_SHA256)) {
            throw new \RuntimeException('openssl_sign failed: ' . (string) openssl_error_string());
        }
        // JWS wants ECDSA signatures as r || s (32 bytes each), openssl gives DER.
        return $this->alg === 'ES256' ? self::derToRaw($sig, 32) : $sig;
    }

    private static function privateKey(string $pem, int $type): \OpenSSLAsymmetricKey
    {
        if (!function_exists('openssl_pkey_get_private')) {
            throw new \RuntimeException('RS256 and ES256 tokens need ext-openssl');
        }
        $key = openssl_pkey_get_private($pem);
        if ($key === false) {
            throw new \InvalidArgumentException('not a PEM private key: ' . (string) openssl_error_string());
        }
        $details = openssl_pkey_get_details($key);
        if (($details['type'] ?? null) !== $type) {
            throw new \InvalidArgumentException($type === OPENSSL_KEYTYPE_RSA ? 'RS256 needs an RSA key' : 'ES256 needs an EC key');
        }
        if ($type === OPENSSL_KEYTYPE_EC && ($details['ec']['curve_name'] ?? '') !== 'prime256v1') {
            throw new \InvalidArgumentException('ES256 needs a P-256 (prime256v1) key');
        }
        return $key;
    }

    /** DER SEQUENCE { INTEGER r, INTEGER s } -> r || s, each left-padded to $size bytes. */
    private static function derToRaw(string $der, int $size): string
    {
        $pos = 2;
        if ((ord($der[1]) & 0x80) !== 0) {
            $pos += ord($der[1]) & 0x7f;
        }
        $out = '';
        for ($i = 0; $i < 2; $i++) {
            if (ord($der[$pos]) !== 0x02) {
                throw new \RuntimeException('unexpected ECDSA signature encoding');
            }
            $len = ord($der[$pos + 1]);
            $int = ltrim(substr($der, $pos + 2, $len), "\x00");
            $out .= str_pad($int, $size, "\x00", STR_PAD_LEFT);
            $pos += 2 + $len;
        }
        return $out;
    }

    private static function json(mixed $v): string
    {
        return json_encode($v, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
    }

    private static function b64(string $bytes): string
    {
        return rtrim(strtr(base64_encode($bytes), '+/', '-_'), '=');
    }
}
