<?php

/**
 * Prints a token minted by the PHP client, for php-client.test.ts:
 *   php mint-token.php <HS256|RS256|ES256> <connection|subscription> <user> [channel] [info JSON]
 * The key is REALTIME_TOKEN_KEY: the HMAC secret, or a PEM private key.
 */

declare(strict_types=1);

require __DIR__ . '/../../clients/php/tests/bootstrap.php';

use RealtimeHub\Client\Token\TokenSigner;

[, $alg, $kind, $user] = $argv;
$channel = $argv[4] ?? '';
$info = isset($argv[5]) ? json_decode($argv[5], true, 512, JSON_THROW_ON_ERROR) : null;
$key = (string) getenv('REALTIME_TOKEN_KEY');
$signer = match ($alg) {
    'HS256' => TokenSigner::hs256($key),
    'RS256' => TokenSigner::rs256($key),
    'ES256' => TokenSigner::es256($key),
};
echo $kind === 'subscription'
    ? $signer->subscriptionToken($user, $channel, 600, $info)
    : $signer->connectionToken($user, 600, $info);
