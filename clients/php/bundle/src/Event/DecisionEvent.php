<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Event;

use Realtime\V1\DisconnectCode;
use Realtime\V1\DisconnectPush;
use Realtime\V1\Error;
use Realtime\V1\ErrorCode;

/**
 * A call the hub waits for: a listener allows it (each event's allow(), with what the
 * contract lets the app set), denies it (the client gets the code and reason, its connection
 * stays) or disconnects the client. Denying and disconnecting are final and stop the
 * propagation; allowing is not: a later listener may still deny. When no listener decides,
 * the bundle's default applies (see each event).
 */
abstract class DecisionEvent extends WebhookEvent
{
    private bool $allowed = false;
    private ?Error $error = null;
    private ?DisconnectPush $disconnect = null;

    /**
     * Refuses this call. $code: the hub's (Realtime\V1\ErrorCode: 101 unauthorized, 103
     * permission denied...) or the app's own (>= 1000); $temporary: a retry may succeed.
     */
    public function deny(int $code = ErrorCode::ERROR_CODE_PERMISSION_DENIED, string $reason = 'permission denied', bool $temporary = false): void
    {
        $this->allowed = false;
        $this->disconnect = null;
        $this->error = (new Error())->setCode($code)->setMessage($reason)->setTemporary($temporary);
        $this->stopPropagation();
    }

    /**
     * Closes the client's connection. $code: 3000-4999 is sent to the client as is (below
     * 3500 it reconnects, from 3500 it does not); any other code becomes 3504 (no reconnect)
     * or, with $reconnect, 3013.
     */
    public function disconnect(int $code = DisconnectCode::DISCONNECT_CODE_FORCE_NO_RECONNECT, string $reason = 'disconnected by the application', bool $reconnect = false): void
    {
        $this->allowed = false;
        $this->error = null;
        $this->disconnect = (new DisconnectPush())->setCode($code)->setReason($reason)->setReconnect($reconnect);
        $this->stopPropagation();
    }

    /** Whether a listener allowed, denied or disconnected. */
    public function isDecided(): bool
    {
        return $this->allowed || $this->error !== null || $this->disconnect !== null;
    }

    public function isAllowed(): bool
    {
        return $this->allowed;
    }

    /** The refusal deny() set, null otherwise. */
    public function getError(): ?Error
    {
        return $this->error;
    }

    /** The disconnect disconnect() set, null otherwise. */
    public function getDisconnect(): ?DisconnectPush
    {
        return $this->disconnect;
    }

    protected function markAllowed(): void
    {
        $this->allowed = true;
        $this->error = null;
        $this->disconnect = null;
    }
}
