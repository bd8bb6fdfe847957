<?php

declare(strict_types=1);

namespace App\Realtime;

use RealtimeHub\Bundle\Event\ConnectEvent;
use Symfony\Component\EventDispatcher\Attribute\AsEventListener;

/**
 * Enriches the bundle's default connect (the session's user): a display name as the
 * connection's info, a greeting in the connect reply; a banned user is disconnected.
 */
#[AsEventListener]
final class ConnectListener
{
    public function __invoke(ConnectEvent $event): void
    {
        $user = $event->getSecurityUser();
        if ($user === null) {
            return; // the default denies: 101 not logged in
        }
        if (\in_array('ROLE_BANNED', $user->getRoles(), true)) {
            $event->disconnect(4501, 'banned');

            return;
        }
        $name = ucfirst($user->getUserIdentifier());
        $event->setInfo(['name' => $name])->setReplyData(['hello' => $name, 'client' => $event->getData()]);
    }
}
