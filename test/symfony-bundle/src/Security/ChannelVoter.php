<?php

declare(strict_types=1);

namespace App\Security;

use RealtimeHub\Bundle\Security\ChannelSubject;
use RealtimeHub\Bundle\Security\RealtimePermission;
use Symfony\Component\Security\Core\Authentication\Token\TokenInterface;
use Symfony\Component\Security\Core\Authorization\Voter\Voter;

/**
 * Who may subscribe and publish, asked by the bundle when no listener decided: a user's own
 * channel `user:<id>` is theirs alone; `news:*` is read by anyone logged in, written by nobody.
 */
final class ChannelVoter extends Voter
{
    protected function supports(string $attribute, mixed $subject): bool
    {
        return \in_array($attribute, [RealtimePermission::SUBSCRIBE, RealtimePermission::PUBLISH], true)
            && $subject instanceof ChannelSubject;
    }

    /** @param ChannelSubject $subject */
    protected function voteOnAttribute(string $attribute, mixed $subject, TokenInterface $token): bool
    {
        // $subject->userId is the hub's user of the connection; $token the session's user, if
        // the hub forwarded a session cookie (both are alice for alice's browser).
        if ($subject->userId === '') {
            return false;
        }
        return match ($subject->namespace) {
            'user' => $subject->channel === 'user:' . $subject->userId,
            'news' => $attribute === RealtimePermission::SUBSCRIBE,
            default => false,
        };
    }
}
