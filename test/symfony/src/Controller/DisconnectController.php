<?php

namespace App\Controller;

use App\Realtime\WebhookCall;
use Symfony\Component\HttpFoundation\JsonResponse;
use Symfony\Component\HttpFoundation\Request;

/** proxyDisconnectUrl: a connection closed (a notification: the hub waits for nothing). */
final class DisconnectController
{
    public function __construct(private string $eventsDir)
    {
    }

    public function __invoke(Request $request): JsonResponse
    {
        $call = WebhookCall::body($request);
        $eventId = (string) ($call['eventId'] ?? '');
        if (!preg_match('/^[0-9a-f-]{36}$/', $eventId)) {
            return WebhookCall::error(107, 'eventId is required');
        }
        // Sent at least once: a retry carries the same eventId, so only the first is recorded
        // (fopen 'x' fails on an existing file; a real app would use a unique key in its
        // database). Every copy is answered, or the hub keeps retrying.
        if (!is_dir($this->eventsDir)) {
            @mkdir($this->eventsDir, 0700, true);
        }
        $file = @fopen("$this->eventsDir/$eventId.json", 'x');
        if ($file !== false) {
            fwrite($file, json_encode([
                'client' => $call['context']['client'] ?? '',
                'user' => $call['context']['user'] ?? '',
                'code' => $call['code'] ?? 0,
                'reason' => $call['reason'] ?? '',
                'channels' => $call['channels'] ?? [],
            ]));
            fclose($file);
        }

        return WebhookCall::result();
    }
}
