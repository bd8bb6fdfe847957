<?php

declare(strict_types=1);

namespace App\Consumer;

use RealtimeHub\Bundle\Consumer\PublicationReceivedEvent;
use Symfony\Component\Messenger\Attribute\AsMessageHandler;

/** `realtime:consume --messenger`: the publication as a Messenger message, handled at once (no routing), recorded like the events. */
#[AsMessageHandler]
final class ConsumedMessageHandler
{
    public function __construct(private readonly ConsumedEventRecorder $recorder)
    {
    }

    public function __invoke(PublicationReceivedEvent $message): void
    {
        $this->recorder->record('messenger', $message);
    }
}
