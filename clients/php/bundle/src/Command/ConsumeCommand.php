<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Command;

use Psr\Log\LoggerInterface;
use Realtime\V1\SubscribeResponse;
use RealtimeHub\Bundle\Consumer\ClientJoinedEvent;
use RealtimeHub\Bundle\Consumer\ClientLeftEvent;
use RealtimeHub\Bundle\Consumer\PublicationReceivedEvent;
use RealtimeHub\Client\Exception\HubException;
use RealtimeHub\Client\HubClientInterface;
use Symfony\Component\Console\Attribute\AsCommand;
use Symfony\Component\Console\Command\Command;
use Symfony\Component\Console\Input\InputArgument;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Input\InputOption;
use Symfony\Component\Console\Output\ConsoleOutputInterface;
use Symfony\Component\Console\Output\OutputInterface;
use Symfony\Component\Messenger\MessageBusInterface;
use Symfony\Contracts\EventDispatcher\EventDispatcherInterface;

/**
 * A long-running worker on HubClientInterface::subscribe(): each publication (and with
 * --join-leave each join and leave) becomes a PublicationReceivedEvent (ClientJoinedEvent,
 * ClientLeftEvent) for the app's listeners, or with --messenger a message on the bus.
 *
 * Delivery is at most once, as the stream is: events published while no worker is subscribed
 * are not replayed (read history() for that). A listener's exception is reported and the worker
 * goes on; the stream failing (the hub shutting down, the worker too slow) ends it with the
 * hub's error and exit code 1, for a supervisor to start it again.
 *
 * Stopping, with ext-pcntl: SIGTERM or SIGINT is held while an event is being handled, and the
 * worker exits 0 once that event is done. While the worker waits on the stream, the signal's
 * handler (async signals) runs when curl next calls back, about once a second, and the stream
 * ends there (subscribe()'s $shouldStop): exit 0 too. The console's own handlers are set aside
 * for as long as the stream is open.
 */
#[AsCommand(name: 'realtime:consume', description: 'Consumes channels and dispatches each publication as a Symfony event (or Messenger message)')]
final class ConsumeCommand extends Command
{
    public function __construct(
        private readonly HubClientInterface $hub,
        private readonly EventDispatcherInterface $dispatcher,
        private readonly ?MessageBusInterface $bus = null,
        private readonly ?LoggerInterface $logger = null,
    ) {
        parent::__construct();
    }

    protected function configure(): void
    {
        $this
            ->addArgument('channels', InputArgument::REQUIRED | InputArgument::IS_ARRAY, 'The channels to consume')
            ->addOption('join-leave', null, InputOption::VALUE_NONE, 'Also joins and leaves (their namespaces must have joinLeave on)')
            ->addOption('client-only', null, InputOption::VALUE_NONE, 'Only publications browsers made, not those of backends')
            ->addOption('messenger', null, InputOption::VALUE_NONE, 'Dispatch each event as a Messenger message (route it to a transport, or handle it at once)')
            ->addOption('limit', null, InputOption::VALUE_REQUIRED, 'Stop after this many events (0: no limit)', '0')
            ->addOption('max-seconds', null, InputOption::VALUE_REQUIRED, 'Stop after this many seconds (0: no limit)', '0')
            ->setHelp(<<<'HELP'
                Needs the gRPC transport: realtime.dsn grpc://host:grpcPort (or grpcs://).

                <info>%command.full_name% chat:lobby news --join-leave</info>

                Listen with #[AsEventListener] on a method taking a
                RealtimeHub\Bundle\Consumer\PublicationReceivedEvent (ClientJoinedEvent, ClientLeftEvent);
                with --messenger, handle the same classes with #[AsMessageHandler].
                HELP);
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        $err = $output instanceof ConsoleOutputInterface ? $output->getErrorOutput() : $output;
        $limit = (string) $input->getOption('limit');
        $maxSeconds = (string) $input->getOption('max-seconds');
        if (!ctype_digit($limit)) {
            return HubErrors::invalid($output, sprintf('--limit "%s" is not a number of events', $limit));
        }
        if (!is_numeric($maxSeconds) || (float) $maxSeconds < 0) {
            return HubErrors::invalid($output, sprintf('--max-seconds "%s" is not a number of seconds', $maxSeconds));
        }
        $messenger = (bool) $input->getOption('messenger');
        if ($messenger && $this->bus === null) {
            return HubErrors::invalid($output, '--messenger needs symfony/messenger and a message bus (framework.messenger)');
        }
        /** @var list<string> $channels */
        $channels = array_values(array_map('strval', (array) $input->getArgument('channels')));
        $limit = (int) $limit;

        $signals = \function_exists('pcntl_sigprocmask') ? [\SIGTERM, \SIGINT] : [];
        $stopReason = null;
        $seen = 0;
        $onEvent = function (SubscribeResponse $ev) use ($output, $err, $messenger, $signals, $limit, &$seen, &$stopReason): bool {
            $event = match ($ev->getEvent()) {
                'publication' => PublicationReceivedEvent::fromPublication($ev->getChannel(), $ev->getPublication()),
                'join' => ClientJoinedEvent::fromClientInfo($ev->getChannel(), $ev->getJoin()?->getInfo()),
                'leave' => ClientLeftEvent::fromClientInfo($ev->getChannel(), $ev->getLeave()?->getInfo()),
                default => null,
            };
            if ($event === null) {
                return true; // an event kind newer than this bundle
            }
            // Hold SIGTERM/SIGINT while the app handles the event: a stop never cuts a listener short.
            if ($signals !== []) {
                pcntl_sigprocmask(\SIG_BLOCK, $signals, $previousMask);
            }
            try {
                $seen++;
                if ($output->isVerbose()) {
                    $output->writeln(sprintf('%s %s', $ev->getChannel(), $event instanceof PublicationReceivedEvent ? sprintf('#%d: %s', $event->offset, $event->data) : sprintf('%s %s (%s)', $ev->getEvent(), $event->user, $event->client)));
                }
                $messenger ? $this->bus?->dispatch($event) : $this->dispatcher->dispatch($event);
            } catch (\Throwable $e) {
                // Reported, and the worker goes on: the stream has no retry, stopping would only miss more events.
                $err->writeln(sprintf('<error>A handler of %s in %s failed: %s: %s</error>', $event::class, $ev->getChannel(), get_debug_type($e), $e->getMessage()));
                $this->logger?->error('realtime:consume: a handler of {event} in {channel} failed', ['event' => $event::class, 'channel' => $ev->getChannel(), 'exception' => $e]);
            } finally {
                if ($signals !== []) {
                    $pending = pcntl_sigtimedwait($signals, $info, 0, 0);
                    pcntl_sigprocmask(\SIG_SETMASK, $previousMask ?? []);
                    if (\is_int($pending) && $pending > 0) {
                        $stopReason = $pending === \SIGTERM ? 'SIGTERM' : 'SIGINT';
                    }
                }
            }
            if ($stopReason !== null) {
                return false;
            }
            if ($limit > 0 && $seen >= $limit) {
                $stopReason = sprintf('--limit %d', $limit);
                return false;
            }
            return true;
        };

        // Waiting on the stream: a signal only notes the stop, which $shouldStop hands to the
        // transport within a second (see the class comment); restored afterwards.
        $handlers = [];
        $async = $signals !== [] ? pcntl_async_signals(true) : false;
        foreach ($signals as $signal) {
            $handlers[$signal] = pcntl_signal_get_handler($signal);
            pcntl_signal($signal, static function (int $signal) use (&$stopReason): void {
                $stopReason ??= $signal === \SIGTERM ? 'SIGTERM' : 'SIGINT';
            });
        }
        try {
            $this->hub->subscribe(
                $channels,
                $onEvent,
                clientPublicationsOnly: (bool) $input->getOption('client-only'),
                joinLeave: (bool) $input->getOption('join-leave'),
                onReady: static function () use ($output, $channels): void {
                    $output->writeln(sprintf('Consuming %s (stop with SIGTERM or Ctrl+C)', implode(', ', $channels)));
                },
                maxSeconds: (float) $maxSeconds,
                shouldStop: static function () use (&$stopReason): bool {
                    return $stopReason !== null;
                },
            );
        } catch (HubException $e) {
            HubErrors::report($output, $e);
            $err->writeln(sprintf('Stopped after %d events: the stream failed', $seen));
            return Command::FAILURE;
        } catch (\LogicException $e) {
            // The HTTP transports have no streams.
            return HubErrors::invalid($output, 'realtime:consume needs the gRPC transport: set realtime.dsn to grpc://host:grpcPort (or grpcs://). ' . $e->getMessage());
        } finally {
            foreach ($handlers as $signal => $handler) {
                pcntl_signal($signal, $handler);
            }
            if ($signals !== []) {
                pcntl_async_signals($async);
            }
        }
        $output->writeln(sprintf('Stopped after %d events (%s)', $seen, $stopReason ?? ((float) $maxSeconds > 0 ? sprintf('--max-seconds %s', $maxSeconds) : 'the hub ended the stream')));
        return Command::SUCCESS;
    }
}
