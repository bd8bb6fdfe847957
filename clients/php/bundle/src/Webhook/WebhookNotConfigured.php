<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Webhook;

/** The webhook routes are imported but realtime.webhook.secret is not set: every call is refused until it is. */
final class WebhookNotConfigured extends \LogicException
{
    public function __construct()
    {
        parent::__construct(
            'realtime.webhook.secret is not set, so the realtime webhook routes cannot tell the hub\'s calls from forged ones '
            . 'and refuse them all: set it to the hub\'s proxySecret (config/packages/realtime.yaml: '
            . "realtime: { webhook: { secret: '%env(REALTIME_WEBHOOK_SECRET)%' } })"
        );
    }
}
