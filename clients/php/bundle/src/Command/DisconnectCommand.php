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
use Symfony\Component\Console\Output\OutputInterface;

#[AsCommand(name: 'realtime:disconnect', description: 'Disconnects a user\'s connections (all, or one)')]
final class DisconnectCommand extends Command
{
    public function __construct(private readonly HubClientInterface $hub)
    {
        parent::__construct();
    }

    protected function configure(): void
    {
        $this
            ->addArgument('user', InputArgument::REQUIRED, 'The user id (the token\'s sub)')
            ->addOption('client', null, InputOption::VALUE_REQUIRED, 'Only this connection (a client id)', '')
            ->addOption('code', null, InputOption::VALUE_REQUIRED, 'The disconnect code the browser gets; 0: force, no reconnect', '0')
            ->addOption('reason', null, InputOption::VALUE_REQUIRED, 'Shown to the browser', '');
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        $code = (string) $input->getOption('code');
        if (!ctype_digit($code)) {
            return HubErrors::invalid($output, sprintf('--code "%s" is not a number', $code));
        }
        $user = (string) $input->getArgument('user');
        $client = (string) $input->getOption('client');
        try {
            $this->hub->disconnect($user, $client, (int) $code, (string) $input->getOption('reason'));
        } catch (HubException $e) {
            return HubErrors::report($output, $e);
        }
        $output->writeln($client === '' ? sprintf('Disconnected user %s', $user) : sprintf('Disconnected client %s of user %s', $client, $user));
        return Command::SUCCESS;
    }
}
