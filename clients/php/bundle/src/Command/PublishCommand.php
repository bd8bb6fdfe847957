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

#[AsCommand(name: 'realtime:publish', description: 'Publishes a JSON payload into a channel')]
final class PublishCommand extends Command
{
    public function __construct(private readonly HubClientInterface $hub)
    {
        parent::__construct();
    }

    protected function configure(): void
    {
        $this
            ->addArgument('channel', InputArgument::REQUIRED, 'The channel, e.g. news or chat:room-1')
            ->addArgument('data', InputArgument::REQUIRED, 'The payload: JSON text (browsers receive it as a JSON value)')
            ->addOption('tag', 't', InputOption::VALUE_REQUIRED | InputOption::VALUE_IS_ARRAY, 'A tag key=value (repeatable)')
            ->addOption('idempotency-key', null, InputOption::VALUE_REQUIRED, 'A repeat with the same key within 5 minutes is not delivered again (default: a random key)')
            ->addOption('skip-history', null, InputOption::VALUE_NONE, 'Deliver without keeping it in the channel\'s history')
            ->addOption('raw', null, InputOption::VALUE_NONE, 'Send <data> as bytes without checking it is JSON (for protobuf-speaking clients)')
            ->setHelp(<<<'HELP'
                <info>%command.full_name% news '{"title":"Hello"}' --tag kind=headline</info>
                prints the publication's place in the channel's stream: its offset and epoch.
                HELP);
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        $data = (string) $input->getArgument('data');
        if (!$input->getOption('raw')) {
            HubErrors::json($data, '<data>', $error);
            if ($error !== null) {
                return HubErrors::invalid($output, $error . ' (use --raw to send bytes as they are)');
            }
        }
        $tags = [];
        foreach ((array) $input->getOption('tag') as $tag) {
            $eq = strpos((string) $tag, '=');
            if ($eq === false || $eq === 0) {
                return HubErrors::invalid($output, sprintf('--tag "%s" is not key=value', $tag));
            }
            $tags[substr($tag, 0, $eq)] = substr($tag, $eq + 1);
        }
        $key = $input->getOption('idempotency-key');
        if ($key === '') {
            return HubErrors::invalid($output, '--idempotency-key is empty');
        }
        try {
            $r = $this->hub->publish((string) $input->getArgument('channel'), $data, $key, (bool) $input->getOption('skip-history'), $tags);
        } catch (HubException $e) {
            return HubErrors::report($output, $e);
        }
        $output->writeln(sprintf('Published into %s: offset %d, epoch %s, idempotency key %s', $input->getArgument('channel'), $r->offset, $r->epoch === '' ? '""' : $r->epoch, $r->idempotencyKey));
        return Command::SUCCESS;
    }
}
