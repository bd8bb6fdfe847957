<?php

/**
 * A Subscribe consumer, for php-client.test.ts:
 *   php consume.php '<JSON list of channels>' <events to wait for> [joinLeave 0|1] [clientPublicationsOnly 0|1]
 * Prints "ready" once subscribed, then one JSON line per event, and exits 0 after that many
 * events (or with the exception as JSON and code 3).
 * Env: REALTIME_GRPC_URL, REALTIME_API_KEY.
 */

declare(strict_types=1);

require __DIR__ . '/../../clients/php/tests/bootstrap.php';

use Realtime\V1\SubscribeResponse;
use RealtimeHub\Client\Exception\HubException;
use RealtimeHub\Client\HubClient;

$channels = json_decode($argv[1], true, 512, JSON_THROW_ON_ERROR);
$want = (int) $argv[2];
$hub = HubClient::grpc((string) getenv('REALTIME_GRPC_URL'), (string) getenv('REALTIME_API_KEY'));
$seen = 0;
try {
    $hub->subscribe(
        $channels,
        static function (SubscribeResponse $ev) use (&$seen, $want): bool {
            $info = $ev->getPublication()?->getInfo() ?? $ev->getJoin()?->getInfo() ?? $ev->getLeave()?->getInfo();
            echo json_encode([
                'channel' => $ev->getChannel(),
                'event' => $ev->getEvent(),
                'data' => $ev->getPublication()?->getData(),
                'offset' => $ev->getPublication()?->getOffset(),
                'user' => $info?->getUser(),
            ], JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES), "\n";
            return ++$seen < $want;
        },
        joinLeave: ($argv[3] ?? '0') === '1',
        clientPublicationsOnly: ($argv[4] ?? '0') === '1',
        onReady: static function (): void {
            echo "ready\n";
        },
        maxSeconds: 20,
    );
} catch (HubException $e) {
    echo json_encode(['exception' => get_class($e), 'code' => $e->getCode(), 'temporary' => $e->isTemporary(), 'message' => $e->getMessage()], JSON_UNESCAPED_SLASHES), "\n";
    exit(3);
}
echo "done $seen\n";
