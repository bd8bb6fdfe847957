<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Webhook;

use Google\Protobuf\Internal\Message;
use Realtime\V1;

/**
 * The calls the hub makes to the app (proxy.proto), by the name the hub gives them in
 * X-Realtime-Call. Each has its own route (config/routes.php) and request message.
 */
enum CallKind: string
{
    case Connect = 'connect';
    case Refresh = 'refresh';
    case Subscribe = 'subscribe';
    case SubRefresh = 'subRefresh';
    case Publish = 'publish';
    case Rpc = 'rpc';
    case Disconnect = 'disconnect';
    case Unsubscribe = 'unsubscribe';

    /** The path under the import's prefix, matching the hub's proxy<Kind>Url: /connect, /sub-refresh... */
    public function path(): string
    {
        return $this === self::SubRefresh ? 'sub-refresh' : $this->value;
    }

    /** realtime_webhook_connect, realtime_webhook_sub_refresh... */
    public function routeName(): string
    {
        return 'realtime_webhook_' . str_replace('-', '_', $this->path());
    }

    /** Notifications: the hub waits for no decision, only for a 2xx (it retries otherwise). */
    public function isNotification(): bool
    {
        return $this === self::Disconnect || $this === self::Unsubscribe;
    }

    /** @return class-string<Message> */
    public function requestClass(): string
    {
        return match ($this) {
            self::Connect => V1\ConnectProxyRequest::class,
            self::Refresh => V1\RefreshProxyRequest::class,
            self::Subscribe => V1\SubscribeProxyRequest::class,
            self::SubRefresh => V1\SubRefreshProxyRequest::class,
            self::Publish => V1\PublishProxyRequest::class,
            self::Rpc => V1\RpcProxyRequest::class,
            self::Disconnect => V1\NotifyDisconnectRequest::class,
            self::Unsubscribe => V1\NotifyUnsubscribeRequest::class,
        };
    }

    /** @return class-string<Message> */
    public function responseClass(): string
    {
        return match ($this) {
            self::Connect => V1\ConnectProxyResponse::class,
            self::Refresh => V1\RefreshProxyResponse::class,
            self::Subscribe => V1\SubscribeProxyResponse::class,
            self::SubRefresh => V1\SubRefreshProxyResponse::class,
            self::Publish => V1\PublishProxyResponse::class,
            self::Rpc => V1\RpcProxyResponse::class,
            self::Disconnect => V1\NotifyDisconnectResponse::class,
            self::Unsubscribe => V1\NotifyUnsubscribeResponse::class,
        };
    }
}
