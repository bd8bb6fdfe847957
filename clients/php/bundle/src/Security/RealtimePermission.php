<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Security;

/**
 * The attributes the bundle asks Symfony Security about when no listener decided a
 * SubscribeEvent or PublishEvent, with a ChannelSubject: an app's Voter that supports them
 * decides. No voter for them: denied (103), as Security denies what no voter grants.
 */
final class RealtimePermission
{
    /** isGranted('REALTIME_SUBSCRIBE', ChannelSubject): may this connection subscribe to the channel? */
    public const SUBSCRIBE = 'REALTIME_SUBSCRIBE';
    /** isGranted('REALTIME_PUBLISH', ChannelSubject): may it publish getData() to the channel? */
    public const PUBLISH = 'REALTIME_PUBLISH';

    private function __construct()
    {
    }
}
