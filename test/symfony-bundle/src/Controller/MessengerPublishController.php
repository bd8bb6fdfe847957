<?php

declare(strict_types=1);

namespace App\Controller;

use RealtimeHub\Bundle\Messenger\Publish;
use Symfony\Component\HttpFoundation\JsonResponse;
use Symfony\Component\HttpFoundation\Request;
use Symfony\Component\Messenger\MessageBusInterface;
use Symfony\Component\Routing\Annotation\Route;

/** Publishing later: the request only queues a Publish; `messenger:consume async` sends it. */
final class MessengerPublishController
{
    #[Route('/messenger/publish', methods: ['POST'])]
    public function publish(Request $request, MessageBusInterface $bus): JsonResponse
    {
        $message = new Publish((string) $request->request->get('channel', 'news'), ['title' => $request->request->get('title')]);
        $bus->dispatch($message);
        // ?twice=1: the same message queued again, as a redelivery would; the key makes the hub deliver it once.
        if ($request->query->getBoolean('twice')) {
            $bus->dispatch($message);
        }

        return new JsonResponse(['idempotencyKey' => $message->idempotencyKey], 202);
    }
}
