<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\DependencyInjection;

use RealtimeHub\Client\Token\TokenSigner;

/** Builds the TokenSigner of `realtime.tokens` at runtime, so secrets may come from %env()%. */
final class TokenSignerFactory
{
    public static function create(string $algorithm, ?string $secret, ?string $privateKey, ?string $keyId): TokenSigner
    {
        if ($algorithm === 'HS256') {
            if ($secret === null || $secret === '') {
                throw new \InvalidArgumentException('realtime.tokens: HS256 needs a secret (the hub\'s tokenHmacSecret)');
            }
            return TokenSigner::hs256($secret, $keyId);
        }
        if ($privateKey === null || $privateKey === '') {
            throw new \InvalidArgumentException(sprintf('realtime.tokens: %s needs a private_key (PEM or the path of a PEM file)', $algorithm));
        }
        if (!str_contains($privateKey, '-----BEGIN')) {
            $pem = @file_get_contents($privateKey);
            if ($pem === false) {
                throw new \InvalidArgumentException(sprintf('realtime.tokens: cannot read the private_key file "%s"', $privateKey));
            }
            $privateKey = $pem;
        }
        return $algorithm === 'RS256' ? TokenSigner::rs256($privateKey, $keyId) : TokenSigner::es256($privateKey, $keyId);
    }
}
