<?php

declare(strict_types=1);

namespace RealtimeHub\Client;

use Realtime\V1\EraseUserResponse;

/**
 * What EraseUser removed (HubService.EraseUser), for the records of an erasure request. Keep
 * calling eraseUser() until complete() is true: a node that did not answer, or failed, may
 * still hold the user's data in its memory.
 */
final class EraseUserResult
{
    /**
     * @param list<array{kind: string, store: string, node: string, removed: int, channels: array<string, int>, channelsTruncated: bool}> $stores
     *   one per store erased: kind "history" or "presence", store "memory" or "redis", node ""
     *   for a store every node shares (erased once); channels: removed per channel (at most 1,000)
     * @param list<array{node: string, disconnected: int, error: ?string}> $nodes the node asked and those that answered
     * @param list<string> $missingNodes nodes that did not answer within 3 s
     */
    public function __construct(
        public readonly int $publicationsRemoved,
        public readonly int $presenceRemoved,
        /** Connections closed, summed over the nodes. */
        public readonly int $disconnected,
        public readonly array $stores,
        public readonly array $nodes,
        public readonly array $missingNodes,
    ) {
    }

    /** Every node answered and none failed. */
    public function complete(): bool
    {
        foreach ($this->nodes as $n) {
            if ($n['error'] !== null) {
                return false;
            }
        }
        return $this->missingNodes === [];
    }

    public static function fromResponse(EraseUserResponse $res): self
    {
        $stores = [];
        foreach ($res->getStores() as $s) {
            $channels = [];
            foreach ($s->getChannels() as $name => $n) {
                $channels[(string) $name] = (int) $n;
            }
            $stores[] = [
                'kind' => $s->getKind(),
                'store' => $s->getStore(),
                'node' => $s->getNode(),
                'removed' => $s->getRemoved(),
                'channels' => $channels,
                'channelsTruncated' => $s->getChannelsTruncated(),
            ];
        }
        $nodes = [];
        foreach ($res->getNodes() as $n) {
            $error = $n->getError();
            $nodes[] = [
                'node' => $n->getNode(),
                'disconnected' => $n->getDisconnected(),
                'error' => $error === null ? null : sprintf('%d: %s', $error->getCode(), $error->getMessage()),
            ];
        }
        return new self(
            $res->getPublicationsRemoved(),
            $res->getPresenceRemoved(),
            $res->getDisconnected(),
            $stores,
            $nodes,
            array_values(iterator_to_array($res->getMissingNodes())),
        );
    }
}
