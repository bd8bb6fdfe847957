<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Event;

use Realtime\V1\RpcProxyRequest;
use Realtime\V1\RpcProxyResult;

/**
 * A client calls a method (proxyRpcUrl, or the rpcProxy of the method's namespace `ns:name`).
 *
 * No listener decides: the #[AsRpcHandler] service for getMethod() answers with its return
 * value; no such handler: denied with 104 (method not found).
 */
final class RpcEvent extends DecisionEvent
{
    private string $result = '';

    public function getMethod(): string
    {
        return $this->request()->getMethod();
    }

    /** The call's parameters, decoded (arrays for objects); null when none or not JSON. */
    public function getData(): mixed
    {
        return self::decodeJson($this->request()->getData());
    }

    public function getRawData(): string
    {
        return $this->request()->getData();
    }

    /** Answers the call: $result (JSON-encoded; null: no data) is what the client gets. */
    public function respond(mixed $result = null): void
    {
        $this->result = $result === null ? '' : self::encodeJson($result);
        $this->markAllowed();
    }

    public function toResult(): RpcProxyResult
    {
        return (new RpcProxyResult())->setData($this->result);
    }

    private function request(): RpcProxyRequest
    {
        /** @var RpcProxyRequest */
        return $this->getCall();
    }
}
