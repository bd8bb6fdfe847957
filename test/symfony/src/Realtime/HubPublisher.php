<?php

namespace App\Realtime;

/** The broker-first way: the app publishes through the hub's HTTP API (no gRPC extension needed). */
final class HubPublisher
{
    public function __construct(private string $hubUrl, private string $apiKey)
    {
    }

    /** Publishes JSON into a channel; a retry with the same idempotency key is not delivered twice. */
    public function publish(string $channel, array $data, string $idempotencyKey = ''): array
    {
        $body = @file_get_contents($this->hubUrl.'/api/publish', false, stream_context_create(['http' => [
            'method' => 'POST',
            'header' => "Content-Type: application/json\r\nAuthorization: apikey $this->apiKey",
            'content' => json_encode(['channel' => $channel, 'data' => $data, 'idempotencyKey' => $idempotencyKey]),
            'timeout' => 5,
            'ignore_errors' => true,
        ]]));
        $answer = \is_string($body) ? json_decode($body, true) : null;
        if (!\is_array($answer) || isset($answer['error'])) {
            throw new \RuntimeException('publish to the hub failed: '.($body ?: 'no answer'));
        }

        return $answer; // {"offset": "...", "epoch": "..."}
    }
}
