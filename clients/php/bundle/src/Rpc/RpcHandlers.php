<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Rpc;

use Psr\Container\ContainerInterface;
use RealtimeHub\Bundle\Event\RpcEvent;

/** The #[AsRpcHandler] services by method name, loaded only when called. */
final class RpcHandlers
{
    /** @param array<string, array{string, string}> $handlers method => [service id in $services, PHP method] */
    public function __construct(private readonly ContainerInterface $services, private readonly array $handlers = [])
    {
    }

    public function has(string $method): bool
    {
        return isset($this->handlers[$method]);
    }

    /** @return list<string> */
    public function methods(): array
    {
        return array_keys($this->handlers);
    }

    /** Runs the handler of $event's method and returns its result. */
    public function call(RpcEvent $event): mixed
    {
        [$id, $phpMethod] = $this->handlers[$event->getMethod()] ?? throw new \LogicException(sprintf('no rpc handler for "%s"', $event->getMethod()));

        return $this->services->get($id)->{$phpMethod}($event);
    }
}
