<?php

namespace App\Controller;

use App\Realtime\WebhookCall;
use App\Users;
use Symfony\Component\HttpFoundation\JsonResponse;
use Symfony\Component\HttpFoundation\Request;

/** proxyPublishUrl: a browser publishes; the app checks the message and rewrites it. */
final class PublishController
{
    public function __construct(private Users $users)
    {
    }

    public function __invoke(Request $request): JsonResponse
    {
        $call = WebhookCall::body($request);
        // data arrives as the JSON the browser sent (b64data when it was not JSON).
        $text = $call['data']['text'] ?? null;
        if (!\is_string($text) || trim($text) === '') {
            return WebhookCall::error(107, 'text is required');
        }
        if (str_contains(strtolower($text), 'spam')) {
            return WebhookCall::error(103, 'message refused by moderation');
        }

        // What subscribers receive instead of what the browser sent.
        return WebhookCall::result(['data' => [
            'text' => htmlspecialchars(trim($text)),
            'by' => $this->users->name((string) ($call['context']['user'] ?? '')),
        ]]);
    }
}
