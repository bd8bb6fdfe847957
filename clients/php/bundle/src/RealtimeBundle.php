<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle;

use RealtimeHub\Bundle\DependencyInjection\RealtimeExtension;
use Symfony\Component\DependencyInjection\Extension\ExtensionInterface;
use Symfony\Component\HttpKernel\Bundle\Bundle;

/**
 * realtime-hub in a Symfony app: `realtime:` in config/packages/realtime.yaml, an autowired
 * HubClientInterface, Messenger publishing, the webhooks as Symfony events, realtime:* commands.
 */
final class RealtimeBundle extends Bundle
{
    public function getContainerExtension(): ?ExtensionInterface
    {
        return new RealtimeExtension();
    }

    public function getPath(): string
    {
        return \dirname(__DIR__);
    }
}
