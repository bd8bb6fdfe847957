<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Event;

use Google\Protobuf\Internal\Message;
use Realtime\V1\ProxyContext;
use Symfony\Component\HttpFoundation\Request;
use Symfony\Contracts\EventDispatcher\Event;

/**
 * A call from the hub (proxy.proto), verified (signed with the webhook secret, within the
 * window) and decoded. Who is asking comes from the hub's ProxyContext: only what the
 * client's real transport carried, never anything the client can set in the protocol.
 */
abstract class WebhookEvent extends Event
{
    public function __construct(private readonly Message $call, private readonly ?Request $httpRequest = null)
    {
    }

    /** The decoded request message (Realtime\V1\ConnectProxyRequest, SubscribeProxyRequest...). */
    public function getCall(): Message
    {
        return $this->call;
    }

    /** The hub's HTTP request: its forwarded cookies and headers, the session they open. Null outside HTTP (tests). */
    public function getHttpRequest(): ?Request
    {
        return $this->httpRequest;
    }

    /** The connection's id. */
    public function getClientId(): string
    {
        return $this->context()->getClient();
    }

    /** The connection's user ('' when anonymous, and in ConnectEvent until decided). */
    public function getUserId(): string
    {
        return $this->context()->getUser();
    }

    /** "websocket", "sse" or "poll". */
    public function getTransport(): string
    {
        return $this->context()->getTransport();
    }

    /** "json" or "binary". */
    public function getProtocol(): string
    {
        return $this->context()->getProtocol();
    }

    /** The hub node holding the connection. */
    public function getNode(): string
    {
        return $this->context()->getNode();
    }

    /** Where the connection came from (behind a proxy: the proxy). */
    public function getRemoteAddr(): string
    {
        return $this->context()->getRemoteAddr();
    }

    /** The Origin header of the request that opened the connection; '' without one. */
    public function getOrigin(): string
    {
        return $this->context()->getOrigin();
    }

    /** @return array<string, string> the headers the hub's proxyHeaders forwards, by lower-case name */
    public function getHeaders(): array
    {
        return iterator_to_array($this->context()->getHeaders());
    }

    /** @return array<string, string> the cookies the hub's proxyCookies forwards, by name */
    public function getCookies(): array
    {
        return iterator_to_array($this->context()->getCookies());
    }

    /** What the connect answer put in `meta` (ConnectEvent::setMeta), sent back with every later call. */
    public function getMeta(): string
    {
        return $this->context()->getMeta();
    }

    protected function context(): ProxyContext
    {
        /** @var ProxyContext|null $context */
        $context = $this->call->getContext();

        return $context ?? new ProxyContext();
    }

    /** JSON bytes -> PHP value (arrays for objects); null when empty or not JSON. */
    protected static function decodeJson(string $bytes): mixed
    {
        if ($bytes === '') {
            return null;
        }
        try {
            return json_decode($bytes, true, 512, \JSON_THROW_ON_ERROR);
        } catch (\JsonException) {
            return null;
        }
    }

    /** PHP value -> JSON bytes. An empty PHP array is `[]`: pass (object) [] for `{}`. */
    protected static function encodeJson(mixed $value): string
    {
        return json_encode($value, \JSON_THROW_ON_ERROR | \JSON_UNESCAPED_SLASHES | \JSON_UNESCAPED_UNICODE | \JSON_PRESERVE_ZERO_FRACTION);
    }

    /** The part of a channel before its first ':' ('' without one), as the hub names namespaces. */
    protected static function namespaceOf(string $channel): string
    {
        $i = strpos($channel, ':');

        return $i === false ? '' : substr($channel, 0, $i);
    }
}
