<?php

declare(strict_types=1);

use RealtimeHub\Bundle\Rpc\RpcHandlers;
use RealtimeHub\Bundle\Webhook\WebhookCodec;
use RealtimeHub\Bundle\Webhook\WebhookController;
use RealtimeHub\Bundle\Webhook\WebhookHandler;
use RealtimeHub\Bundle\Webhook\WebhookSignature;
use Symfony\Component\DependencyInjection\Loader\Configurator\ContainerConfigurator;
use Symfony\Component\DependencyInjection\ServiceLocator;

use function Symfony\Component\DependencyInjection\Loader\Configurator\inline_service;
use function Symfony\Component\DependencyInjection\Loader\Configurator\param;
use function Symfony\Component\DependencyInjection\Loader\Configurator\service;

/*
 * The webhook side: the routes of config/routes.php reach WebhookController, which checks
 * the signature (realtime.webhook.secret, max_age) and dispatches the events. Security is
 * optional: without it the token storage and the authorization checker are null.
 */
return static function (ContainerConfigurator $container): void {
    $services = $container->services()->defaults()->private();

    $services->set('realtime.webhook.signature', WebhookSignature::class)
        ->args([param('realtime.webhook.secret'), param('realtime.webhook.max_age')]);
    $services->set('realtime.webhook.codec', WebhookCodec::class);
    // Filled by RpcHandlerPass from the #[AsRpcHandler] services.
    $services->set('realtime.rpc_handlers', RpcHandlers::class)
        ->args([inline_service(ServiceLocator::class)->args([[]]), []]);
    $services->set('realtime.webhook.handler', WebhookHandler::class)
        ->args([
            service('event_dispatcher'),
            service('realtime.rpc_handlers'),
            service('security.token_storage')->nullOnInvalid(),
            service('security.authorization_checker')->nullOnInvalid(),
            service('logger')->nullOnInvalid(),
        ])
        ->tag('monolog.logger', ['channel' => 'realtime']);
    // Made public by the framework (controller.service_arguments); unused, it is removed.
    $services->set(WebhookController::class)
        ->args([service('realtime.webhook.signature'), service('realtime.webhook.codec'), service('realtime.webhook.handler'), service('logger')->nullOnInvalid()])
        ->tag('controller.service_arguments')
        ->tag('monolog.logger', ['channel' => 'realtime']);
    $services->alias(RpcHandlers::class, 'realtime.rpc_handlers');
};
