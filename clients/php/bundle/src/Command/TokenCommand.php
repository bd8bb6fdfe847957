<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Command;

use RealtimeHub\Client\Token\TokenSigner;
use Symfony\Component\Console\Attribute\AsCommand;
use Symfony\Component\Console\Command\Command;
use Symfony\Component\Console\Input\InputArgument;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Input\InputOption;
use Symfony\Component\Console\Output\OutputInterface;

#[AsCommand(name: 'realtime:token', description: 'Mints a connection token (or with --channel a subscription token) for a user')]
final class TokenCommand extends Command
{
    /** @param \Closure(): ?TokenSigner $signer built when the command runs: a bad key fails this command only */
    public function __construct(private readonly \Closure $signer, private readonly int $defaultTtl)
    {
        parent::__construct();
    }

    protected function configure(): void
    {
        $this
            ->addArgument('user', InputArgument::REQUIRED, 'The user id (the token\'s sub)')
            ->addOption('channel', null, InputOption::VALUE_REQUIRED, 'Mint a subscription token for this channel')
            ->addOption('ttl', null, InputOption::VALUE_REQUIRED, 'Seconds the token is valid', (string) $this->defaultTtl)
            ->addOption('info', null, InputOption::VALUE_REQUIRED, 'The token\'s info claim, as JSON (shown in presence)')
            ->setHelp('Prints only the token, so <info>TOKEN=$(bin/console realtime:token alice)</info> works.');
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        try {
            $signer = ($this->signer)();
        } catch (\InvalidArgumentException $e) {
            return HubErrors::invalid($output, $e->getMessage());
        }
        if ($signer === null) {
            return HubErrors::invalid($output, 'realtime:token needs realtime.tokens.secret (HS256) or realtime.tokens.private_key (RS256/ES256) in config/packages/realtime.yaml');
        }
        $ttl = (string) $input->getOption('ttl');
        if (!ctype_digit($ttl) || (int) $ttl < 1) {
            return HubErrors::invalid($output, sprintf('--ttl "%s" is not a positive number of seconds', $ttl));
        }
        $info = null;
        if ($input->getOption('info') !== null) {
            $info = HubErrors::json((string) $input->getOption('info'), '--info', $error);
            if ($error !== null) {
                return HubErrors::invalid($output, $error);
            }
        }
        $user = (string) $input->getArgument('user');
        $channel = $input->getOption('channel');
        if ($channel === '') {
            return HubErrors::invalid($output, '--channel is empty');
        }
        $token = $channel === null
            ? $signer->connectionToken($user, (int) $ttl, $info)
            : $signer->subscriptionToken($user, (string) $channel, (int) $ttl, $info);
        $output->writeln($token, OutputInterface::OUTPUT_RAW);
        return Command::SUCCESS;
    }
}
