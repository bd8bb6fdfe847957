<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Command;

use RealtimeHub\Client\Exception\HubException;
use RealtimeHub\Client\HubClientInterface;
use Symfony\Component\Console\Attribute\AsCommand;
use Symfony\Component\Console\Command\Command;
use Symfony\Component\Console\Helper\Table;
use Symfony\Component\Console\Input\InputArgument;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Input\InputOption;
use Symfony\Component\Console\Output\OutputInterface;

#[AsCommand(name: 'realtime:presence', description: 'Who is in a channel now (its namespace must have presence on)')]
final class PresenceCommand extends Command
{
    public function __construct(private readonly HubClientInterface $hub)
    {
        parent::__construct();
    }

    protected function configure(): void
    {
        $this
            ->addArgument('channel', InputArgument::REQUIRED)
            ->addOption('stats', null, InputOption::VALUE_NONE, 'Only how many clients and unique users');
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        $channel = (string) $input->getArgument('channel');
        try {
            if ($input->getOption('stats')) {
                $s = $this->hub->presenceStats($channel);
                $output->writeln(sprintf('%s: %d clients, %d users', $channel, $s->numClients, $s->numUsers));
                return Command::SUCCESS;
            }
            $clients = $this->hub->presence($channel);
        } catch (HubException $e) {
            return HubErrors::report($output, $e);
        }
        $table = (new Table($output))->setHeaders(['Client', 'User', 'Connection info', 'Channel info']);
        foreach ($clients as $id => $c) {
            $table->addRow([$id, $c->getUser(), $c->getConnInfo(), $c->getChanInfo()]);
        }
        $table->render();
        $output->writeln(sprintf('%d clients in %s', \count($clients), $channel));
        return Command::SUCCESS;
    }
}
