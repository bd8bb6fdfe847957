<?php

declare(strict_types=1);

namespace App\Realtime;

use RealtimeHub\Bundle\Event\RpcEvent;
use RealtimeHub\Bundle\Rpc\AsRpcHandler;

/** rpc `whoami`: a service class answering one method. */
#[AsRpcHandler('whoami')]
final class WhoAmIHandler
{
    public function __invoke(RpcEvent $call): array
    {
        return ['user' => $call->getUserId(), 'transport' => $call->getTransport(), 'echo' => $call->getData()];
    }
}
