<?php

namespace App\Realtime;

use Symfony\Component\HttpFoundation\JsonResponse;
use Symfony\Component\HttpFoundation\Request;

/** Reading a webhook request and writing its answer (proto3 JSON, proxy.proto). */
final class WebhookCall
{
    /** The request body: `context` (client, user, headers, cookies...) and the call's own fields. */
    public static function body(Request $request): array
    {
        $body = json_decode($request->getContent(), true);

        return \is_array($body) ? $body : [];
    }

    /** Allows the call. (object) keeps an empty result `{}`: PHP would encode [] as a JSON array, which the hub refuses. */
    public static function result(array $result = []): JsonResponse
    {
        return new JsonResponse(['result' => (object) $result]);
    }

    /** Refuses this one call (the connection stays); the client gets this code and message. */
    public static function error(int $code, string $message, bool $temporary = false): JsonResponse
    {
        return new JsonResponse(['error' => ['code' => $code, 'message' => $message, 'temporary' => $temporary]]);
    }
}
