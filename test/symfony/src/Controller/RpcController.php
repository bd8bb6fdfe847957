<?php

namespace App\Controller;

use App\Realtime\WebhookCall;
use App\Users;
use Symfony\Component\HttpFoundation\JsonResponse;
use Symfony\Component\HttpFoundation\Request;

/** proxyRpcUrl: methods a browser calls over its WebSocket (client `rpc` command). */
final class RpcController
{
    public function __construct(private Users $users)
    {
    }

    public function __invoke(Request $request): JsonResponse
    {
        $call = WebhookCall::body($request);
        $user = (string) ($call['context']['user'] ?? '');

        return match ($call['method'] ?? '') {
            // The session cookie comes with every call of the connection, not only connect.
            'whoami' => WebhookCall::result(['data' => [
                'user' => $user,
                'name' => $this->users->name($user),
                'session' => $request->hasPreviousSession() ? $request->getSession()->get('user') : null,
            ]]),
            'add' => WebhookCall::result(['data' => ['sum' => array_sum(array_map('floatval', (array) ($call['data']['numbers'] ?? [])))]]),
            default => WebhookCall::error(104, 'unknown method'),
        };
    }
}
