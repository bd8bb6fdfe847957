<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Webhook;

use Realtime\V1\ErrorCode;

/**
 * Thrown by a listener or an #[AsRpcHandler] to refuse the call with this code and message:
 * the client gets them, its connection stays. $temporary tells the client a retry may
 * succeed. Codes are the hub's (Realtime\V1\ErrorCode: 101 unauthorized, 103 permission
 * denied, 104 method not found, 107 bad request, 113 not found...) or the app's own (>= 1000).
 */
final class WebhookError extends \RuntimeException
{
    public function __construct(string $message, int $code = ErrorCode::ERROR_CODE_PERMISSION_DENIED, private readonly bool $temporary = false, ?\Throwable $previous = null)
    {
        parent::__construct($message, $code, $previous);
    }

    public function isTemporary(): bool
    {
        return $this->temporary;
    }

    public static function unauthorized(string $message = 'unauthorized'): self
    {
        return new self($message, ErrorCode::ERROR_CODE_UNAUTHORIZED);
    }

    public static function permissionDenied(string $message = 'permission denied'): self
    {
        return new self($message, ErrorCode::ERROR_CODE_PERMISSION_DENIED);
    }

    public static function badRequest(string $message): self
    {
        return new self($message, ErrorCode::ERROR_CODE_BAD_REQUEST);
    }

    public static function notFound(string $message): self
    {
        return new self($message, ErrorCode::ERROR_CODE_NOT_FOUND);
    }

    /** Something the app depends on is down: the client may try again later (108). */
    public static function notAvailable(string $message): self
    {
        return new self($message, ErrorCode::ERROR_CODE_NOT_AVAILABLE, true);
    }
}
