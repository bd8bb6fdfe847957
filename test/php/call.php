<?php

/**
 * One HubClient call from the command line, for php-client.test.ts:
 *   php call.php <http|json|grpc> <method> '<JSON array of arguments (named ones as an object)>' [times]
 * Prints the JSON of each result (the same call object, tried `times` times: a retry), or of the
 * exception ({"exception": class, "code", "temporary", "message"}) and exits with 3.
 * Env: REALTIME_HTTP_URL, REALTIME_GRPC_URL, REALTIME_API_KEY; TLS: REALTIME_CA_FILE,
 * REALTIME_CERT_FILE, REALTIME_KEY_FILE.
 */

declare(strict_types=1);

require __DIR__ . '/../../clients/php/tests/bootstrap.php';

use RealtimeHub\Client\Exception\HubException;
use RealtimeHub\Client\HubClient;
use RealtimeHub\Client\Transport\TransportOptions;

[, $transport, $method, $args] = $argv;
$times = (int) ($argv[4] ?? 1);
$key = (string) getenv('REALTIME_API_KEY');
$file = static fn (string $name): ?string => getenv($name) ?: null;
$options = new TransportOptions(caFile: $file('REALTIME_CA_FILE'), certFile: $file('REALTIME_CERT_FILE'), keyFile: $file('REALTIME_KEY_FILE'));
$hub = match ($transport) {
    'http' => HubClient::http((string) getenv('REALTIME_HTTP_URL'), $key, $options),
    'json' => HubClient::httpJson((string) getenv('REALTIME_HTTP_URL'), $key, $options),
    'grpc' => HubClient::grpc((string) getenv('REALTIME_GRPC_URL'), $key, $options),
};
$args = json_decode($args, true, 512, JSON_THROW_ON_ERROR);
try {
    for ($i = 0; $i < $times; $i++) {
        $result = $hub->$method(...$args);
        echo json_encode($result, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES), "\n";
    }
} catch (HubException $e) {
    echo json_encode(['exception' => get_class($e), 'code' => $e->getCode(), 'temporary' => $e->isTemporary(), 'message' => $e->getMessage()], JSON_UNESCAPED_SLASHES), "\n";
    exit(3);
}
