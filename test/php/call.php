<?php

/**
 * One HubClient call from the command line, for php-client.test.ts:
 *   php call.php <http|json|grpc> <method> '<JSON array of arguments (named ones as an object)>' [times]
 * Prints the JSON of each result (the same call object, tried `times` times: a retry).
 * Env: REALTIME_HTTP_URL, REALTIME_GRPC_URL, REALTIME_API_KEY.
 */

declare(strict_types=1);

require __DIR__ . '/../../clients/php/tests/bootstrap.php';

use RealtimeHub\Client\HubClient;

[, $transport, $method, $args] = $argv;
$times = (int) ($argv[4] ?? 1);
$key = (string) getenv('REALTIME_API_KEY');
$hub = match ($transport) {
    'http' => HubClient::http((string) getenv('REALTIME_HTTP_URL'), $key),
    'json' => HubClient::httpJson((string) getenv('REALTIME_HTTP_URL'), $key),
    'grpc' => HubClient::grpc((string) getenv('REALTIME_GRPC_URL'), $key),
};
$args = json_decode($args, true, 512, JSON_THROW_ON_ERROR);
for ($i = 0; $i < $times; $i++) {
    $result = $hub->$method(...$args);
    echo json_encode($result, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES), "\n";
}
