<?php

namespace App\Controller;

use App\Realtime\WebhookCall;
use App\Users;
use Symfony\Component\HttpFoundation\JsonResponse;
use Symfony\Component\HttpFoundation\Request;

/** proxySubscribeUrl: may this user read this channel? */
final class SubscribeController
{
    public function __construct(private Users $users)
    {
    }

    public function __invoke(Request $request): JsonResponse
    {
        $call = WebhookCall::body($request);
        // context.user is the user the connect webhook answered: the hub keeps it.
        $user = (string) ($call['context']['user'] ?? '');
        $channel = (string) ($call['channel'] ?? '');
        [$namespace, $name] = explode(':', $channel, 2) + [1 => ''];
        $allowed = $user !== '' && match ($namespace) {
            'chat' => true,
            'personal' => $name === $user,
            'admin' => $this->users->isAdmin($user),
            default => false,
        };
        if (!$allowed) {
            return WebhookCall::error(103, "$user may not read $channel");
        }

        // info: what other members see of this user in the channel (presence, publications).
        return WebhookCall::result(['info' => ['name' => $this->users->name($user)]]);
    }
}
