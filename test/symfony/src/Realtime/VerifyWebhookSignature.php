<?php

namespace App\Realtime;

use Symfony\Component\EventDispatcher\EventSubscriberInterface;
use Symfony\Component\HttpFoundation\JsonResponse;
use Symfony\Component\HttpKernel\Event\RequestEvent;
use Symfony\Component\HttpKernel\KernelEvents;

/**
 * Every request under /realtime/ must be signed by the hub: anyone can POST to these URLs,
 * and the connect webhook would otherwise tell a forger who owns a stolen session cookie.
 */
final class VerifyWebhookSignature implements EventSubscriberInterface
{
    public function __construct(private WebhookSignature $signature)
    {
    }

    public static function getSubscribedEvents(): array
    {
        // Before the router and the session listener: a forged request reaches no controller.
        return [KernelEvents::REQUEST => ['onRequest', 256]];
    }

    public function onRequest(RequestEvent $event): void
    {
        $request = $event->getRequest();
        if ($event->isMainRequest() && str_starts_with($request->getPathInfo(), '/realtime/') && !$this->signature->verify($request)) {
            // The hub turns a 401 into error 101 for the client: refused, not an outage.
            $event->setResponse(new JsonResponse(['error' => ['code' => 101, 'message' => 'bad or expired webhook signature']], 401));
        }
    }
}
