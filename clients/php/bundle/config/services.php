<?php

declare(strict_types=1);

use RealtimeHub\Bundle\Command\ChannelsCommand;
use RealtimeHub\Bundle\Command\ConsumeCommand;
use RealtimeHub\Bundle\Command\DisconnectCommand;
use RealtimeHub\Bundle\Command\EraseUserCommand;
use RealtimeHub\Bundle\Command\InfoCommand;
use RealtimeHub\Bundle\Command\PresenceCommand;
use RealtimeHub\Bundle\Command\PublishCommand;
use RealtimeHub\Bundle\Command\TokenCommand;
use RealtimeHub\Bundle\Messenger\Broadcast;
use RealtimeHub\Bundle\Messenger\Publish;
use RealtimeHub\Bundle\Messenger\PublishHandler;
use Symfony\Component\Console\Command\Command;
use Symfony\Component\DependencyInjection\Argument\ServiceClosureArgument;
use Symfony\Component\DependencyInjection\ContainerInterface;
use Symfony\Component\DependencyInjection\Loader\Configurator\ContainerConfigurator;
use Symfony\Component\DependencyInjection\Reference;
use Symfony\Component\Messenger\MessageBusInterface;

use function Symfony\Component\DependencyInjection\Loader\Configurator\param;
use function Symfony\Component\DependencyInjection\Loader\Configurator\service;

/*
 * The publishing side: the Messenger handler of Publish/Broadcast (with symfony/messenger) and
 * the realtime:* commands (with symfony/console), all on realtime.client.
 */
return static function (ContainerConfigurator $container): void {
    $services = $container->services()->defaults()->private();

    if (interface_exists(MessageBusInterface::class)) {
        $services->set('realtime.messenger.publish_handler', PublishHandler::class)
            ->args([service('realtime.client')])
            ->tag('messenger.message_handler', ['handles' => Publish::class, 'method' => 'publish'])
            ->tag('messenger.message_handler', ['handles' => Broadcast::class, 'method' => 'broadcast']);
    }

    if (class_exists(Command::class)) {
        $commands = [
            'realtime:publish' => PublishCommand::class,
            'realtime:presence' => PresenceCommand::class,
            'realtime:channels' => ChannelsCommand::class,
            'realtime:info' => InfoCommand::class,
            'realtime:disconnect' => DisconnectCommand::class,
            'realtime:erase-user' => EraseUserCommand::class,
        ];
        foreach ($commands as $name => $class) {
            $services->set('realtime.command.' . substr($name, 9), $class)
                ->args([service('realtime.client')])
                ->tag('console.command', ['command' => $name]);
        }
        $services->set('realtime.command.token', TokenCommand::class)
            ->args([new ServiceClosureArgument(new Reference('realtime.token_signer', ContainerInterface::NULL_ON_INVALID_REFERENCE)), param('realtime.tokens.ttl')])
            ->tag('console.command', ['command' => 'realtime:token']);
        $services->set('realtime.command.consume', ConsumeCommand::class)
            ->args([
                service('realtime.client'),
                service('event_dispatcher'),
                service('messenger.default_bus')->nullOnInvalid(),
                service('logger')->nullOnInvalid(),
            ])
            ->tag('console.command', ['command' => 'realtime:consume'])
            ->tag('monolog.logger', ['channel' => 'realtime']);
    }
};
