<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Event;

use Realtime\V1\SubscribeOptions;
use Realtime\V1\SubscribeProxyRequest;

/**
 * A client subscribes to a channel (proxySubscribeUrl, or its namespace's subscribeProxy).
 *
 * No listener decides: with Symfony Security, isGranted(RealtimePermission::SUBSCRIBE,
 * ChannelSubject) (an app's Voter decides); without it, denied with 103.
 */
final class SubscribeEvent extends DecisionEvent
{
    private string $info = '';
    private int $expireAt = 0;
    private ?bool $presence = null;
    private ?bool $joinLeave = null;
    private ?bool $recovery = null;

    public function getChannel(): string
    {
        return $this->request()->getChannel();
    }

    /** The part of the channel before its first ':' ('' without one). */
    public function getNamespace(): string
    {
        return self::namespaceOf($this->getChannel());
    }

    /** The subscription token the client sent, if any (the hub did not verify it). */
    public function getToken(): string
    {
        return $this->request()->getToken();
    }

    /** JSON the client carries in this channel (ClientInfo.chan_info). */
    public function setInfo(mixed $info): static
    {
        $this->info = self::encodeJson($info);

        return $this;
    }

    /** Unix seconds when the subscription ends unless a SubRefreshEvent extends it; 0: never. */
    public function setExpireAt(int $expireAt): static
    {
        $this->expireAt = $expireAt;

        return $this;
    }

    /**
     * Lets the client subscribe. Null arguments keep what was set (for presence, join_leave
     * and recovery: the namespace's options).
     */
    public function allow(mixed $info = null, ?int $expireAt = null, ?bool $presence = null, ?bool $joinLeave = null, ?bool $recovery = null): void
    {
        if ($info !== null) {
            $this->setInfo($info);
        }
        if ($expireAt !== null) {
            $this->expireAt = $expireAt;
        }
        $this->presence = $presence ?? $this->presence;
        $this->joinLeave = $joinLeave ?? $this->joinLeave;
        $this->recovery = $recovery ?? $this->recovery;
        $this->markAllowed();
    }

    public function toResult(): SubscribeOptions
    {
        return self::options($this->info, $this->expireAt, $this->presence, $this->joinLeave, $this->recovery);
    }

    /** @internal SubscribeOptions from JSON info bytes and the overrides (null: unset). */
    public static function options(string $info, int $expireAt, ?bool $presence, ?bool $joinLeave, ?bool $recovery): SubscribeOptions
    {
        $options = (new SubscribeOptions())->setInfo($info)->setExpireAt($expireAt);
        if ($presence !== null) {
            $options->setPresence($presence);
        }
        if ($joinLeave !== null) {
            $options->setJoinLeave($joinLeave);
        }
        if ($recovery !== null) {
            $options->setRecovery($recovery);
        }

        return $options;
    }

    private function request(): SubscribeProxyRequest
    {
        /** @var SubscribeProxyRequest */
        return $this->getCall();
    }
}
