<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Webhook;

use Psr\Log\LoggerInterface;
use Symfony\Component\HttpFoundation\JsonResponse;
use Symfony\Component\HttpFoundation\Request;
use Symfony\Component\HttpFoundation\Response;

/**
 * The webhook routes (config/routes.php): one per call kind, each with `_realtime_call` set.
 * Refuses unsigned, tampered and stale calls with HTTP 401 (the hub refuses the operation
 * with 101), a call of another kind than the route's or a body that does not decode with
 * 400 (the hub: a temporary 108), and answers the rest in the encoding they came in.
 */
final class WebhookController
{
    public const ROUTE_ATTRIBUTE = '_realtime_call';

    public function __construct(
        private readonly WebhookSignature $signature,
        private readonly WebhookCodec $codec,
        private readonly WebhookHandler $handler,
        private readonly ?LoggerInterface $logger = null,
    ) {
    }

    public function __invoke(Request $request): Response
    {
        $kind = CallKind::tryFrom((string) $request->attributes->get(self::ROUTE_ATTRIBUTE))
            ?? throw new \LogicException(sprintf('The route "%s" has no valid "%s" default: import @RealtimeBundle/config/routes.php.', (string) $request->attributes->get('_route'), self::ROUTE_ATTRIBUTE));
        $body = $request->getContent();
        if (!$this->signature->verify((string) $request->headers->get('X-Realtime-Timestamp'), (string) $request->headers->get('X-Realtime-Signature'), $body)) {
            $this->logger?->warning('realtime webhook {call}: bad or expired signature, refused', ['call' => $kind->value]);

            return new JsonResponse(['error' => ['code' => 101, 'message' => 'bad or expired webhook signature']], Response::HTTP_UNAUTHORIZED);
        }
        $said = $request->headers->get('X-Realtime-Call');
        if ($said !== null && $said !== $kind->value) {
            return $this->badRequest(sprintf('this route answers %s calls, the hub sent a %s call: check the hub\'s proxy*Url settings', $kind->value, $said));
        }
        $binary = WebhookCodec::isBinary((string) $request->headers->get('Content-Type'));
        try {
            $call = $this->codec->decode($kind->requestClass(), $body, $binary);
        } catch (\InvalidArgumentException $e) {
            return $this->badRequest($e->getMessage());
        }
        $answer = $this->handler->handle($kind, $call, $request);

        return new Response($this->codec->encode($answer, $binary), Response::HTTP_OK, ['Content-Type' => WebhookCodec::contentType($binary)]);
    }

    private function badRequest(string $message): Response
    {
        $this->logger?->error('realtime webhook: {message}', ['message' => $message]);

        return new Response($message, Response::HTTP_BAD_REQUEST, ['Content-Type' => 'text/plain']);
    }
}
