<?php

namespace App\Controller;

use App\Realtime\HubPublisher;
use App\Users;
use Symfony\Component\HttpFoundation\JsonResponse;
use Symfony\Component\HttpFoundation\Request;

/** An ordinary app action (an admin's form post) that also tells every browser in chat:lobby. */
final class AnnounceController
{
    public function __construct(private Users $users, private HubPublisher $hub)
    {
    }

    public function __invoke(Request $request): JsonResponse
    {
        $user = $request->hasPreviousSession() ? $request->getSession()->get('user') : null;
        if ($user === null || !$this->users->isAdmin($user)) {
            return new JsonResponse(['error' => 'admins only'], 403);
        }
        $position = $this->hub->publish('chat:lobby', [
            'text' => (string) $request->request->get('text'),
            'by' => $this->users->name($user),
            'announcement' => true,
        ]);

        return new JsonResponse(['published' => $position]);
    }
}
