<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Event;

use Realtime\V1\ProxyRefreshResult;

/**
 * The decision of RefreshEvent and SubRefreshEvent: extend to a new expiry, or let it expire.
 * No listener decides: not extended (the connection or subscription ends when it expires).
 *
 * @internal
 */
trait RefreshDecision
{
    private bool $expired = true;
    private int $newExpireAt = 0;
    private ?string $newInfo = null;

    /** Extends to $expireAt (Unix seconds; 0: never expires), optionally replacing the info. */
    public function extend(int $expireAt, mixed $info = null): void
    {
        $this->expired = false;
        $this->newExpireAt = $expireAt;
        $this->newInfo = $info === null ? null : self::encodeJson($info);
        $this->markAllowed();
    }

    /** Does not extend: it ends when it expires (an answer, not an error). */
    public function expire(): void
    {
        $this->expired = true;
        $this->newExpireAt = 0;
        $this->newInfo = null;
        $this->markAllowed();
    }

    public function applyDefault(): void
    {
        $this->expire();
    }

    public function toResult(): ProxyRefreshResult
    {
        $result = (new ProxyRefreshResult())->setExpired($this->expired)->setExpireAt($this->newExpireAt);
        if ($this->newInfo !== null) {
            $result->setInfo($this->newInfo);
        }

        return $result;
    }
}
