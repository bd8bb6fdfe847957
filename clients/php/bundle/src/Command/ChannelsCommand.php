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
use Symfony\Component\Console\Output\OutputInterface;

#[AsCommand(name: 'realtime:channels', description: 'Channels with subscribers on any node, and how many')]
final class ChannelsCommand extends Command
{
    public function __construct(private readonly HubClientInterface $hub)
    {
        parent::__construct();
    }

    protected function configure(): void
    {
        $this->addArgument('pattern', InputArgument::OPTIONAL, 'Only channels matching it; * is any run of characters (chat:*)', '');
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        try {
            $res = $this->hub->channels((string) $input->getArgument('pattern'));
        } catch (HubException $e) {
            return HubErrors::report($output, $e);
        }
        $channels = iterator_to_array($res->getChannels());
        ksort($channels);
        $table = (new Table($output))->setHeaders(['Channel', 'Clients']);
        foreach ($channels as $name => $info) {
            $table->addRow([$name, $info->getNumClients()]);
        }
        $table->render();
        $output->writeln(sprintf('%d channels', \count($channels)));
        if ($res->getTruncated()) {
            $output->writeln('<comment>The list is truncated: narrow the pattern.</comment>');
        }
        $missing = iterator_to_array($res->getMissingNodes());
        if ($missing !== []) {
            $output->writeln(sprintf('<comment>Nodes that did not answer (their channels are missing): %s</comment>', implode(', ', $missing)));
        }
        return Command::SUCCESS;
    }
}
