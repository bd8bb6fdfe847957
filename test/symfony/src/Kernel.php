<?php

namespace App;

use App\Controller\AnnounceController;
use App\Controller\ConnectController;
use App\Controller\DisconnectController;
use App\Controller\LoginController;
use App\Controller\PageController;
use App\Controller\PublishController;
use App\Controller\RpcController;
use App\Controller\SubscribeController;
use App\Realtime\HubPublisher;
use App\Realtime\VerifyWebhookSignature;
use App\Realtime\WebhookSignature;
use Symfony\Bundle\FrameworkBundle\FrameworkBundle;
use Symfony\Bundle\FrameworkBundle\Kernel\MicroKernelTrait;
use Symfony\Component\DependencyInjection\Loader\Configurator\ContainerConfigurator;
use Symfony\Component\HttpKernel\Kernel as BaseKernel;
use Symfony\Component\Routing\Loader\Configurator\RoutingConfigurator;

final class Kernel extends BaseKernel
{
    use MicroKernelTrait;

    public function registerBundles(): iterable
    {
        yield new FrameworkBundle();
    }

    public function getProjectDir(): string
    {
        return \dirname(__DIR__);
    }

    // Out of the source tree: the test gives each run a directory of its own (php -S passes
    // the environment to getenv(), not to $_SERVER, where MicroKernelTrait looks).
    public function getCacheDir(): string
    {
        return (getenv('APP_CACHE_DIR') ?: sys_get_temp_dir().'/realtime-hub-symfony').'/'.$this->environment;
    }

    public function getLogDir(): string
    {
        return $this->getCacheDir().'/log';
    }

    private function configureContainer(ContainerConfigurator $container): void
    {
        $container->extension('framework', [
            'secret' => '%env(APP_SECRET)%',
            'http_method_override' => false,
            'router' => ['utf8' => true],
            // The browser's session: its cookie (PHPSESSID, PHP's default name) is what the hub
            // forwards to the connect webhook (proxyCookies).
            'session' => [
                'storage_factory_id' => 'session.storage.factory.native',
                'handler_id' => 'session.handler.native_file',
                'save_path' => '%kernel.cache_dir%/sessions',
                'cookie_samesite' => 'lax',
            ],
        ]);
        $container->parameters()->set('realtime.events_dir', '%kernel.cache_dir%/realtime-events');

        $services = $container->services()->defaults()->autowire()->autoconfigure();
        $services->set(WebhookSignature::class)->arg('$secret', '%env(REALTIME_PROXY_SECRET)%');
        $services->set(VerifyWebhookSignature::class);
        $services->set(HubPublisher::class)->args(['%env(REALTIME_HUB_URL)%', '%env(REALTIME_API_KEY)%']);
        $services->set(Users::class);
        foreach ([AnnounceController::class, LoginController::class, PageController::class, ConnectController::class, SubscribeController::class, PublishController::class, RpcController::class] as $controller) {
            $services->set($controller)->tag('controller.service_arguments');
        }
        $services->set(DisconnectController::class)->arg('$eventsDir', '%realtime.events_dir%')->tag('controller.service_arguments');
    }

    private function configureRoutes(RoutingConfigurator $routes): void
    {
        $routes->add('page', '/')->controller(PageController::class)->methods(['GET']);
        $routes->add('login', '/login')->controller(LoginController::class)->methods(['GET', 'POST']);
        $routes->add('announce', '/announce')->controller(AnnounceController::class)->methods(['POST']);
        // The webhooks the hub calls (proxyConnectUrl etc.); VerifyWebhookSignature guards /realtime/.
        $routes->add('realtime_connect', '/realtime/connect')->controller(ConnectController::class)->methods(['POST']);
        $routes->add('realtime_subscribe', '/realtime/subscribe')->controller(SubscribeController::class)->methods(['POST']);
        $routes->add('realtime_publish', '/realtime/publish')->controller(PublishController::class)->methods(['POST']);
        $routes->add('realtime_rpc', '/realtime/rpc')->controller(RpcController::class)->methods(['POST']);
        $routes->add('realtime_disconnect', '/realtime/disconnect')->controller(DisconnectController::class)->methods(['POST']);
    }
}
