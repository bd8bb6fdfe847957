<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Tests\Rpc;

use PHPUnit\Framework\TestCase;
use Realtime\V1;
use RealtimeHub\Bundle\Event\RpcEvent;
use RealtimeHub\Bundle\RealtimeBundle;
use RealtimeHub\Bundle\Rpc\AsRpcHandler;
use RealtimeHub\Bundle\Rpc\RpcHandlers;
use RealtimeHub\Bundle\Webhook\CallKind;
use RealtimeHub\Bundle\Webhook\WebhookError;
use RealtimeHub\Bundle\Webhook\WebhookHandler;
use Symfony\Component\DependencyInjection\ContainerBuilder;
use Symfony\Component\DependencyInjection\Exception\InvalidArgumentException;
use Symfony\Component\EventDispatcher\EventDispatcher;

#[AsRpcHandler('time.now')]
final class TimeNowHandler
{
    public function __invoke(RpcEvent $call): array
    {
        return ['now' => 1_800_000_000, 'asker' => $call->getUserId()];
    }
}

final class OrderRpc
{
    #[AsRpcHandler('orders.get')]
    public function get(RpcEvent $call): array
    {
        return ['id' => $call->getData()['id'], 'status' => 'shipped'];
    }

    #[AsRpcHandler('orders.cancel')]
    public function cancel(): never
    {
        throw new WebhookError('already shipped', 1409);
    }

    #[AsRpcHandler('orders.broken')]
    public function broken(): never
    {
        throw new \TypeError('a bug');
    }

    public function notAHandler(): void
    {
    }
}

final class DuplicateHandler
{
    #[AsRpcHandler('time.now')]
    public function now(): int
    {
        return 0;
    }
}

/** #[AsRpcHandler] through the real container build (the bundle's autoconfiguration and RpcHandlerPass). */
final class RpcHandlerTest extends TestCase
{
    /** @param list<class-string> $services */
    private static function handlers(array $services): RpcHandlers
    {
        $container = new ContainerBuilder();
        (new RealtimeBundle())->build($container);
        $container->register('realtime.rpc_handlers', RpcHandlers::class)->setPublic(true);
        foreach ($services as $class) {
            $container->register($class, $class)->setAutoconfigured(true);
        }
        $container->compile();

        return $container->get('realtime.rpc_handlers');
    }

    private static function call(RpcHandlers $handlers, string $method, string $data = ''): V1\RpcProxyResponse
    {
        $call = new V1\RpcProxyRequest(['context' => new V1\ProxyContext(['user' => 'alice']), 'method' => $method, 'data' => $data]);

        return (new WebhookHandler(new EventDispatcher(), $handlers))->handle(CallKind::Rpc, $call);
    }

    public function testClassAndMethodHandlersAreFoundByTheirMethodName(): void
    {
        $handlers = self::handlers([TimeNowHandler::class, OrderRpc::class]);
        self::assertEqualsCanonicalizing(['time.now', 'orders.get', 'orders.cancel', 'orders.broken'], $handlers->methods());
        self::assertSame('{"now":1800000000,"asker":"alice"}', self::call($handlers, 'time.now')->getResult()->getData());
        self::assertSame('{"id":7,"status":"shipped"}', self::call($handlers, 'orders.get', '{"id":7}')->getResult()->getData());
    }

    public function testErrorsOfHandlers(): void
    {
        $handlers = self::handlers([OrderRpc::class]);
        $refused = self::call($handlers, 'orders.cancel')->getError();
        self::assertSame([1409, 'already shipped', false], [$refused->getCode(), $refused->getMessage(), $refused->getTemporary()]);
        // A bug: a plain internal error, not temporary (an HTTP 500 would be a temporary 108 for the hub).
        $broken = self::call($handlers, 'orders.broken')->getError();
        self::assertSame([100, 'rpc orders.broken failed', false], [$broken->getCode(), $broken->getMessage(), $broken->getTemporary()]);
        $unknown = self::call($handlers, 'time.now')->getError();
        self::assertSame([104, 'method not found: time.now'], [$unknown->getCode(), $unknown->getMessage()]);
    }

    public function testTwoHandlersForOneMethodFailTheBuild(): void
    {
        $this->expectException(InvalidArgumentException::class);
        $this->expectExceptionMessage('Two rpc handlers for "time.now"');
        self::handlers([TimeNowHandler::class, DuplicateHandler::class]);
    }
}
