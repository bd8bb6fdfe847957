<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Webhook;

use Google\Protobuf\Internal\Message;
use Psr\Log\LoggerInterface;
use Realtime\V1;
use Realtime\V1\ErrorCode;
use RealtimeHub\Bundle\Event;
use RealtimeHub\Bundle\Event\DecisionEvent;
use RealtimeHub\Bundle\Rpc\RpcHandlers;
use RealtimeHub\Bundle\Security\ChannelSubject;
use RealtimeHub\Bundle\Security\RealtimePermission;
use Symfony\Component\HttpFoundation\Request;
use Symfony\Component\Security\Core\Authentication\Token\Storage\TokenStorageInterface;
use Symfony\Component\Security\Core\Authorization\AuthorizationCheckerInterface;
use Symfony\Contracts\EventDispatcher\EventDispatcherInterface;

/**
 * One verified, decoded call -> its event on the dispatcher -> the answer message. When no
 * listener decides, the defaults: connect by the Security user; subscribe and publish by
 * isGranted(RealtimePermission::*, ChannelSubject); rpc by the #[AsRpcHandler] of the method;
 * refresh and sub-refresh not extended; no decision and no Security: denied.
 */
final class WebhookHandler
{
    public function __construct(
        private readonly EventDispatcherInterface $dispatcher,
        private readonly ?RpcHandlers $rpcHandlers = null,
        private readonly ?TokenStorageInterface $tokenStorage = null,
        private readonly ?AuthorizationCheckerInterface $authorization = null,
        private readonly ?LoggerInterface $logger = null,
    ) {
    }

    /** The answer to $call (a request message of $kind); throws what a notification's listener threw (the hub retries). */
    public function handle(CallKind $kind, Message $call, ?Request $httpRequest = null): Message
    {
        $event = $this->event($kind, $call, $httpRequest);
        $responseClass = $kind->responseClass();
        if ($event instanceof Event\NotificationEvent) {
            $this->dispatcher->dispatch($event);

            return new $responseClass();
        }
        /** @var DecisionEvent $event */
        try {
            $this->dispatcher->dispatch($event);
            if (!$event->isDecided()) {
                $this->decideByDefault($event);
            }
        } catch (WebhookError $e) {
            $event->deny($e->getCode(), $e->getMessage(), $e->isTemporary());
        }

        return self::answer($responseClass, $event);
    }

    /** The response message for a decided event (exactly one of result, error, disconnect). */
    public static function answer(string $responseClass, DecisionEvent $event): Message
    {
        /** @var Message $response */
        $response = new $responseClass();
        if ($event->getDisconnect() !== null) {
            $response->setDisconnect($event->getDisconnect());
        } elseif ($event->getError() !== null) {
            $response->setError($event->getError());
        } elseif ($event->isAllowed()) {
            $response->setResult($event->toResult());
        } else {
            $response->setError((new V1\Error())->setCode(ErrorCode::ERROR_CODE_PERMISSION_DENIED)->setMessage('no decision'));
        }

        return $response;
    }

    private function event(CallKind $kind, Message $call, ?Request $httpRequest): Event\WebhookEvent
    {
        return match ($kind) {
            CallKind::Connect => $this->connectEvent($call, $httpRequest),
            CallKind::Refresh => new Event\RefreshEvent($call, $httpRequest),
            CallKind::Subscribe => new Event\SubscribeEvent($call, $httpRequest),
            CallKind::SubRefresh => new Event\SubRefreshEvent($call, $httpRequest),
            CallKind::Publish => new Event\PublishEvent($call, $httpRequest),
            CallKind::Rpc => new Event\RpcEvent($call, $httpRequest),
            CallKind::Disconnect => new Event\DisconnectEvent($call, $httpRequest),
            CallKind::Unsubscribe => new Event\UnsubscribeEvent($call, $httpRequest),
        };
    }

    private function connectEvent(Message $call, ?Request $httpRequest): Event\ConnectEvent
    {
        $user = $this->tokenStorage?->getToken()?->getUser();
        if (!\is_object($user)) {
            // Symfony < 6 may hold the string "anon." for an anonymous token.
            $user = null;
        }
        $id = match (true) {
            $user === null => null,
            method_exists($user, 'getUserIdentifier') => (string) $user->getUserIdentifier(),
            method_exists($user, 'getUsername') => (string) $user->getUsername(),
            default => null,
        };

        return new Event\ConnectEvent($call, $httpRequest, $user, $id);
    }

    private function decideByDefault(DecisionEvent $event): void
    {
        switch (true) {
            case $event instanceof Event\ConnectEvent:
            case $event instanceof Event\RefreshEvent:
            case $event instanceof Event\SubRefreshEvent:
                $event->applyDefault();
                break;
            case $event instanceof Event\SubscribeEvent:
                $this->vote($event, RealtimePermission::SUBSCRIBE, 'may not subscribe to');
                break;
            case $event instanceof Event\PublishEvent:
                $this->vote($event, RealtimePermission::PUBLISH, 'may not publish to');
                break;
            case $event instanceof Event\RpcEvent:
                $this->callRpcHandler($event);
                break;
            default:
                $event->deny(ErrorCode::ERROR_CODE_PERMISSION_DENIED, 'no listener decided');
        }
    }

    private function vote(Event\SubscribeEvent|Event\PublishEvent $event, string $attribute, string $what): void
    {
        if ($this->authorization === null) {
            $event->deny(ErrorCode::ERROR_CODE_PERMISSION_DENIED, sprintf('no listener decided on %s and Symfony Security is not enabled', $event->getChannel()));

            return;
        }
        try {
            $granted = $this->authorization->isGranted($attribute, ChannelSubject::fromEvent($event));
        } catch (\Symfony\Component\Security\Core\Exception\AuthenticationCredentialsNotFoundException) {
            $granted = false; // a firewall-less request on Symfony < 6 throws instead of voting anonymous
        }
        if ($granted) {
            $event->allow();
        } else {
            $who = $event->getUserId() === '' ? 'an anonymous connection' : $event->getUserId();
            $event->deny(ErrorCode::ERROR_CODE_PERMISSION_DENIED, sprintf('%s %s %s', $who, $what, $event->getChannel()));
        }
    }

    private function callRpcHandler(Event\RpcEvent $event): void
    {
        $method = $event->getMethod();
        if ($this->rpcHandlers === null || !$this->rpcHandlers->has($method)) {
            $event->deny(ErrorCode::ERROR_CODE_METHOD_NOT_FOUND, sprintf('method not found: %s', $method));

            return;
        }
        try {
            $event->respond($this->rpcHandlers->call($event));
        } catch (WebhookError $e) {
            throw $e;
        } catch (\Throwable $e) {
            // A bug in a handler does not go away on retry: a plain, non-temporary error for
            // the client (not an HTTP 500, which the hub reports as a temporary outage), the
            // exception in the app's log. WebhookError::notAvailable() is the temporary one.
            $this->logger?->error('rpc handler for "{method}" failed: {message}', ['method' => $method, 'message' => $e->getMessage(), 'exception' => $e]);
            $event->deny(ErrorCode::ERROR_CODE_INTERNAL, sprintf('rpc %s failed', $method));
        }
    }
}
