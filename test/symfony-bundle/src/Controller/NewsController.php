<?php

declare(strict_types=1);

namespace App\Controller;

use RealtimeHub\Client\HubClientInterface;
use Symfony\Component\HttpFoundation\JsonResponse;
use Symfony\Component\HttpFoundation\Request;
use Symfony\Component\Routing\Annotation\Route;

/** Publishing from a controller: the five-minute path of docs/symfony.md. */
final class NewsController
{
    #[Route('/news', methods: ['POST'])]
    public function publish(Request $request, HubClientInterface $hub): JsonResponse
    {
        $result = $hub->publish('news', ['title' => $request->request->get('title')]);

        return new JsonResponse(['offset' => $result->offset, 'epoch' => $result->epoch]);
    }
}
