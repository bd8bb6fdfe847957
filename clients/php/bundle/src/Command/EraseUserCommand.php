<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Command;

use RealtimeHub\Client\Exception\HubException;
use RealtimeHub\Client\HubClientInterface;
use Symfony\Component\Console\Attribute\AsCommand;
use Symfony\Component\Console\Command\Command;
use Symfony\Component\Console\Input\InputArgument;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Input\InputOption;
use Symfony\Component\Console\Output\ConsoleOutputInterface;
use Symfony\Component\Console\Output\OutputInterface;

/**
 * The GDPR path from the app: what the hub holds of one user (history, presence) goes, across
 * the cluster. Exits 3 when a node did not answer or failed, so a script can call it again.
 */
#[AsCommand(name: 'realtime:erase-user', description: 'Erases a user\'s publications from history and their presence, on every node')]
final class EraseUserCommand extends Command
{
    /** Not every node answered: the erasure is not complete, call again. */
    public const INCOMPLETE = 3;

    public function __construct(private readonly HubClientInterface $hub)
    {
        parent::__construct();
    }

    protected function configure(): void
    {
        $this
            ->addArgument('user', InputArgument::REQUIRED, 'The user id (the token\'s sub)')
            ->addOption('keep-connections', null, InputOption::VALUE_NONE, 'Do not disconnect the user first (their presence may come back)');
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        $user = (string) $input->getArgument('user');
        if ($user === '') {
            return HubErrors::invalid($output, 'the user is empty');
        }
        try {
            $result = $this->hub->eraseUser($user, !$input->getOption('keep-connections'));
        } catch (HubException $e) {
            return HubErrors::report($output, $e);
        }
        $output->writeln(sprintf(
            'Erased user %s: %d publications, %d presence entries, %d connections closed',
            $user,
            $result->publicationsRemoved,
            $result->presenceRemoved,
            $result->disconnected,
        ));
        foreach ($result->stores as $store) {
            $output->writeln(sprintf('  %s (%s%s): %d', $store['kind'], $store['store'], $store['node'] === '' ? '' : ' on ' . $store['node'], $store['removed']), OutputInterface::VERBOSITY_VERBOSE);
        }
        if (!$result->complete()) {
            $failed = array_map(static fn (array $n) => $n['node'] . ': ' . $n['error'], array_filter($result->nodes, static fn (array $n) => $n['error'] !== null));
            $errOutput = $output instanceof ConsoleOutputInterface ? $output->getErrorOutput() : $output;
            $errOutput->writeln(sprintf('Not complete: no answer from %s; run it again', implode(', ', [...$result->missingNodes, ...$failed]) ?: 'some nodes'));
            return self::INCOMPLETE;
        }
        return Command::SUCCESS;
    }
}
