<?php

declare(strict_types=1);

use RealtimeHub\Bundle\Webhook\CallKind;
use RealtimeHub\Bundle\Webhook\WebhookController;
use Symfony\Component\Routing\Loader\Configurator\RoutingConfigurator;

/*
 * The webhook routes, one per call kind, imported once with the prefix the hub's URLs use:
 *
 *     # config/routes/realtime.yaml
 *     realtime_webhooks:
 *         resource: '@RealtimeBundle/config/routes.php'
 *         prefix: /realtime
 *
 * gives POST /realtime/connect, /refresh, /subscribe, /sub-refresh, /publish, /rpc,
 * /disconnect and /unsubscribe (routes realtime_webhook_connect ... realtime_webhook_unsubscribe).
 */
return static function (RoutingConfigurator $routes): void {
    foreach (CallKind::cases() as $kind) {
        $routes->add($kind->routeName(), '/' . $kind->path())
            ->controller(WebhookController::class)
            ->methods(['POST'])
            ->defaults([WebhookController::ROUTE_ATTRIBUTE => $kind->value]);
    }
};
