<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Event;

/**
 * A connection a ConnectEvent gave an expiry is about to expire (proxyRefreshUrl): extend()
 * it or expire() it. No listener decides: not extended.
 */
final class RefreshEvent extends DecisionEvent
{
    use RefreshDecision;
}
