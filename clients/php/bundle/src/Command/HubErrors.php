<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Command;

use RealtimeHub\Client\Exception\HubException;
use Symfony\Component\Console\Command\Command;
use Symfony\Component\Console\Output\ConsoleOutputInterface;
use Symfony\Component\Console\Output\OutputInterface;

/**
 * The one way the realtime:* commands report a failed hub call: the hub's code and message on
 * stderr, and exit code 1 (the command failed; a temporary error says it may work later).
 *
 * @internal
 */
final class HubErrors
{
    public static function report(OutputInterface $output, HubException $e): int
    {
        $err = $output instanceof ConsoleOutputInterface ? $output->getErrorOutput() : $output;
        $err->writeln(sprintf(
            '<error>realtime-hub error %d: %s</error>%s',
            $e->getHubCode(),
            $e->getMessage(),
            $e->isTemporary() ? ' (temporary: the same call may work later)' : '',
        ));
        return Command::FAILURE;
    }

    /** Bad input, named by the option or argument it came from: exit code 2. */
    public static function invalid(OutputInterface $output, string $message): int
    {
        $err = $output instanceof ConsoleOutputInterface ? $output->getErrorOutput() : $output;
        $err->writeln(sprintf('<error>%s</error>', $message));
        return 2;
    }

    /** A JSON option or argument, decoded; null with $error set when it is not JSON. */
    public static function json(string $text, string $name, ?string &$error): mixed
    {
        try {
            return json_decode($text, true, 512, \JSON_THROW_ON_ERROR);
        } catch (\JsonException $e) {
            $error = sprintf('%s is not valid JSON (%s): %s', $name, $e->getMessage(), mb_strimwidth($text, 0, 80, '...'));
            return null;
        }
    }
}
