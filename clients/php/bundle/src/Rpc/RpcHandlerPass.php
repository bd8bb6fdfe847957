<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Rpc;

use Symfony\Component\DependencyInjection\Compiler\CompilerPassInterface;
use Symfony\Component\DependencyInjection\Compiler\ServiceLocatorTagPass;
use Symfony\Component\DependencyInjection\ContainerBuilder;
use Symfony\Component\DependencyInjection\Exception\InvalidArgumentException;
use Symfony\Component\DependencyInjection\Reference;

/**
 * Collects the services tagged `realtime.rpc_handler` (by #[AsRpcHandler] or by hand:
 * attributes `method`, and `handler` for a PHP method other than __invoke) into
 * realtime.rpc_handlers. Two handlers for one method fail the container build.
 */
final class RpcHandlerPass implements CompilerPassInterface
{
    public const TAG = 'realtime.rpc_handler';

    public function process(ContainerBuilder $container): void
    {
        if (!$container->hasDefinition('realtime.rpc_handlers')) {
            return;
        }
        $handlers = [];
        $refs = [];
        foreach ($container->findTaggedServiceIds(self::TAG, true) as $id => $tags) {
            foreach ($tags as $tag) {
                $method = $tag['method'] ?? null;
                if (!\is_string($method) || $method === '') {
                    throw new InvalidArgumentException(sprintf('Service "%s": the "%s" tag needs a "method" (the rpc method name).', $id, self::TAG));
                }
                if (isset($handlers[$method])) {
                    throw new InvalidArgumentException(sprintf('Two rpc handlers for "%s": "%s::%s" and "%s::%s".', $method, $handlers[$method][0], $handlers[$method][1], $id, $tag['handler'] ?? '__invoke'));
                }
                $handlers[$method] = [$id, $tag['handler'] ?? '__invoke'];
                $refs[$id] = new Reference($id);
            }
        }
        $container->getDefinition('realtime.rpc_handlers')
            ->setArgument(0, ServiceLocatorTagPass::register($container, $refs))
            ->setArgument(1, $handlers);
    }
}
