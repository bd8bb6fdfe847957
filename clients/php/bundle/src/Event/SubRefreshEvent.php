<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Event;

use Realtime\V1\SubRefreshProxyRequest;

/**
 * A subscription allowed with an expiry is about to expire (proxySubRefreshUrl): extend()
 * it or expire() it. No listener decides: not extended.
 */
final class SubRefreshEvent extends DecisionEvent
{
    use RefreshDecision;

    public function getChannel(): string
    {
        /** @var SubRefreshProxyRequest $call */
        $call = $this->getCall();

        return $call->getChannel();
    }

    public function getNamespace(): string
    {
        return self::namespaceOf($this->getChannel());
    }
}
