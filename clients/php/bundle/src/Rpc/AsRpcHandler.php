<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Rpc;

/**
 * Marks what answers an rpc method: a service class (its __invoke) or one of its public
 * methods. The handler gets the RpcEvent and returns the result (anything json_encode takes;
 * null: no data); it throws WebhookError to refuse with a code. Autoconfigured services only
 * (or tag the service `realtime.rpc_handler` with `method` and, for a method, `handler`).
 *
 *     #[AsRpcHandler('orders.status')]
 *     final class OrderStatus { public function __invoke(RpcEvent $call): array { ... } }
 */
#[\Attribute(\Attribute::TARGET_CLASS | \Attribute::TARGET_METHOD | \Attribute::IS_REPEATABLE)]
final class AsRpcHandler
{
    public function __construct(
        /** The method name the client calls (for a namespace's rpcProxy: "ns:name"). */
        public readonly string $method,
    ) {
    }
}
