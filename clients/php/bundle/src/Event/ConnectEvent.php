<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Event;

use Realtime\V1\ConnectProxyRequest;
use Realtime\V1\ConnectProxyResult;
use Realtime\V1\ErrorCode;
use Realtime\V1\SubscribeOptions;
use Symfony\Component\HttpFoundation\Request;

/**
 * A client connects without a token (proxyConnectUrl): who is it? The user starts as the
 * Symfony Security user of the hub's request (the session cookie the hub forwards, see
 * proxyCookies), so a listener only enriches (setInfo, setReplyData, subscribe...) or decides.
 *
 * No listener decides: allowed as getUserId() when there is a user, else denied with 101.
 */
final class ConnectEvent extends DecisionEvent
{
    private ?string $info = null;
    private ?string $replyData = null;
    private int $expireAt = 0;
    private string $meta = '';
    /** @var array<string, SubscribeOptions> */
    private array $subscriptions = [];

    public function __construct(ConnectProxyRequest $call, ?Request $httpRequest = null, private readonly ?object $securityUser = null, private ?string $user = null)
    {
        parent::__construct($call, $httpRequest);
    }

    /** The Security user (UserInterface) of the hub's request, from the forwarded session; null when none. */
    public function getSecurityUser(): ?object
    {
        return $this->securityUser;
    }

    /** The user the connection will have: the Security user's identifier unless a listener set another; '' for none. */
    public function getUserId(): string
    {
        return $this->user ?? '';
    }

    public function hasUser(): bool
    {
        return $this->user !== null;
    }

    /** What the client sent in its connect command, decoded (null when none or not JSON). */
    public function getData(): mixed
    {
        return self::decodeJson($this->request()->getData());
    }

    public function getRawData(): string
    {
        return $this->request()->getData();
    }

    /** The client's name and version, as the client says (informational). */
    public function getName(): string
    {
        return $this->request()->getName();
    }

    public function getVersion(): string
    {
        return $this->request()->getVersion();
    }

    /** null: no user (the default then denies); '': anonymous (with allow()). */
    public function setUser(?string $user): static
    {
        $this->user = $user;

        return $this;
    }

    /** JSON attached to the connection (ClientInfo.conn_info: presence, publications). */
    public function setInfo(mixed $info): static
    {
        $this->info = self::encodeJson($info);

        return $this;
    }

    /** JSON sent to the client in its connect reply. */
    public function setReplyData(mixed $data): static
    {
        $this->replyData = self::encodeJson($data);

        return $this;
    }

    /** Unix seconds when the connection expires unless a RefreshEvent extends it; 0: never. */
    public function setExpireAt(int $expireAt): static
    {
        $this->expireAt = $expireAt;

        return $this;
    }

    /** Opaque bytes the hub keeps with the connection and sends back with every later call (getMeta()). */
    public function setMeta(string $meta): static
    {
        $this->meta = $meta;

        return $this;
    }

    /** Subscribes the client to $channel from the server side, with these options (null: the namespace's). */
    public function subscribe(string $channel, mixed $info = null, int $expireAt = 0, ?bool $presence = null, ?bool $joinLeave = null, ?bool $recovery = null): static
    {
        $this->subscriptions[$channel] = SubscribeEvent::options($info === null ? '' : self::encodeJson($info), $expireAt, $presence, $joinLeave, $recovery);

        return $this;
    }

    /** @return list<string> the channels subscribe() added */
    public function getSubscriptions(): array
    {
        return array_keys($this->subscriptions);
    }

    /**
     * Lets the client in. Arguments left null keep what was set before (the user: the
     * Security user's; with none, the connection is anonymous).
     */
    public function allow(?string $user = null, mixed $info = null, mixed $data = null, ?int $expireAt = null, ?string $meta = null): void
    {
        if ($user !== null) {
            $this->user = $user;
        }
        $this->user ??= '';
        if ($info !== null) {
            $this->setInfo($info);
        }
        if ($data !== null) {
            $this->setReplyData($data);
        }
        if ($expireAt !== null) {
            $this->expireAt = $expireAt;
        }
        if ($meta !== null) {
            $this->meta = $meta;
        }
        $this->markAllowed();
    }

    /** The bundle's default when no listener decided: the user if there is one, else 101. */
    public function applyDefault(): void
    {
        if ($this->user !== null) {
            $this->allow();
        } else {
            $this->deny(ErrorCode::ERROR_CODE_UNAUTHORIZED, 'not logged in');
        }
    }

    /** The answer's result when allowed. */
    public function toResult(): ConnectProxyResult
    {
        $result = (new ConnectProxyResult())->setUser($this->user ?? '')->setExpireAt($this->expireAt)->setMeta($this->meta);
        if ($this->info !== null) {
            $result->setInfo($this->info);
        }
        if ($this->replyData !== null) {
            $result->setData($this->replyData);
        }
        foreach ($this->subscriptions as $channel => $options) {
            $result->getSubscriptions()[$channel] = $options;
        }

        return $result;
    }

    private function request(): ConnectProxyRequest
    {
        /** @var ConnectProxyRequest */
        return $this->getCall();
    }
}
