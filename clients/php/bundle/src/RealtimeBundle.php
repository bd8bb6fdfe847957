<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle;

use RealtimeHub\Bundle\DependencyInjection\RealtimeExtension;
use RealtimeHub\Bundle\Rpc\AsRpcHandler;
use RealtimeHub\Bundle\Rpc\RpcHandlerPass;
use Symfony\Component\DependencyInjection\ChildDefinition;
use Symfony\Component\DependencyInjection\ContainerBuilder;
use Symfony\Component\DependencyInjection\Extension\ExtensionInterface;
use Symfony\Component\HttpKernel\Bundle\Bundle;

/**
 * realtime-hub in a Symfony app: `realtime:` in config/packages/realtime.yaml, an autowired
 * HubClientInterface, Messenger publishing, the webhooks as Symfony events, realtime:* commands.
 */
final class RealtimeBundle extends Bundle
{
    public function build(ContainerBuilder $container): void
    {
        parent::build($container);
        // #[AsRpcHandler('name')] on an autoconfigured class (its __invoke) or on its methods.
        $container->registerAttributeForAutoconfiguration(
            AsRpcHandler::class,
            static function (ChildDefinition $definition, AsRpcHandler $attribute, \ReflectionClass|\ReflectionMethod $reflector): void {
                $definition->addTag(RpcHandlerPass::TAG, [
                    'method' => $attribute->method,
                    'handler' => $reflector instanceof \ReflectionMethod ? $reflector->getName() : '__invoke',
                ]);
            },
        );
        $container->addCompilerPass(new RpcHandlerPass());
    }

    public function getContainerExtension(): ?ExtensionInterface
    {
        return new RealtimeExtension();
    }

    public function getPath(): string
    {
        return \dirname(__DIR__);
    }
}
