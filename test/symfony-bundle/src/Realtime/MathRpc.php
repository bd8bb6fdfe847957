<?php

declare(strict_types=1);

namespace App\Realtime;

use RealtimeHub\Bundle\Event\RpcEvent;
use RealtimeHub\Bundle\Rpc\AsRpcHandler;
use RealtimeHub\Bundle\Webhook\WebhookError;

/** Several rpc methods on one service: #[AsRpcHandler] on methods. */
final class MathRpc
{
    #[AsRpcHandler('math.divide')]
    public function divide(RpcEvent $call): float|int
    {
        ['a' => $a, 'b' => $b] = $call->getData() + ['a' => 0, 'b' => 0];
        if ($b == 0) {
            throw WebhookError::badRequest('division by zero');
        }

        return $a / $b;
    }

    #[AsRpcHandler('math.broken')]
    public function broken(): never
    {
        throw new \RuntimeException('a bug in the handler');
    }
}
