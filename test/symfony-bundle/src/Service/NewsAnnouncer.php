<?php

declare(strict_types=1);

namespace App\Service;

use RealtimeHub\Client\HubClientInterface;

/** An app service that publishes: what tests/NewsAnnouncerTest.php checks with the bundle's test double. */
final class NewsAnnouncer
{
    public function __construct(private readonly HubClientInterface $hub)
    {
    }

    /** @return int the publication's offset */
    public function announce(string $title, bool $urgent = false): int
    {
        $tags = $urgent ? ['priority' => 'high'] : [];
        $offset = $this->hub->publish('news', ['title' => $title], tags: $tags)->offset;
        if ($urgent) {
            $this->hub->broadcast(['alerts:web', 'alerts:mobile'], ['title' => $title]);
        }
        return $offset;
    }
}
