<?php

namespace App\Controller;

use App\Realtime\WebhookCall;
use App\Users;
use Symfony\Component\HttpFoundation\JsonResponse;
use Symfony\Component\HttpFoundation\Request;

/** proxyConnectUrl: who is this browser? Answered from its own session. */
final class ConnectController
{
    public function __construct(private Users $users)
    {
    }

    public function __invoke(Request $request): JsonResponse
    {
        // The hub sent the Cookie header of the browser's WebSocket upgrade (proxyCookies:
        // PHPSESSID), so this is the session the browser logged in with, read as on any page.
        $user = $request->hasPreviousSession() ? $request->getSession()->get('user') : null;
        if ($user === null) {
            return WebhookCall::error(101, 'not logged in');
        }
        $name = $this->users->name($user);

        return WebhookCall::result([
            'user' => $user,
            'info' => ['name' => $name],
            'data' => ['hello' => $name],
        ]);
    }
}
