<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Command;

use RealtimeHub\Client\Exception\HubException;
use RealtimeHub\Client\HubClientInterface;
use Symfony\Component\Console\Attribute\AsCommand;
use Symfony\Component\Console\Command\Command;
use Symfony\Component\Console\Helper\Table;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Output\OutputInterface;

#[AsCommand(name: 'realtime:info', description: 'The hub\'s nodes and their figures')]
final class InfoCommand extends Command
{
    public function __construct(private readonly HubClientInterface $hub)
    {
        parent::__construct();
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        try {
            $res = $this->hub->info();
        } catch (HubException $e) {
            return HubErrors::report($output, $e);
        }
        $table = (new Table($output))->setHeaders(['Node', 'Version', 'Clients', 'Users', 'Channels', 'Subscriptions', 'Uptime (s)', 'Broker', 'RPC methods']);
        foreach ($res->getNodes() as $n) {
            $table->addRow([
                $n->getId(),
                $n->getVersion(),
                $n->getNumClients(),
                $n->getNumUsers(),
                $n->getNumChannels(),
                $n->getNumSubscriptions(),
                (string) $n->getUptimeSeconds(),
                $n->getBroker() . ($n->getBrokerHealthy() ? '' : ' (unhealthy)'),
                implode(', ', iterator_to_array($n->getRpcMethods())),
            ]);
        }
        $table->render();
        return Command::SUCCESS;
    }
}
