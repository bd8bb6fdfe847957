<?php

declare(strict_types=1);

namespace RealtimeHub\Client\Exception;

/**
 * An error the hub answered with, or a call that did not reach it (TransportException).
 *
 * getCode() is the hub's error code (types.proto ErrorCode: 101 unauthorized, 107 bad request,
 * ...); isTemporary() says whether the same call may succeed later. The subclass names the
 * kind, so `catch (BadRequestException $e)` needs no code table.
 */
class HubException extends \RuntimeException
{
    public const INTERNAL = 100;
    public const UNAUTHORIZED = 101;
    public const UNKNOWN_CHANNEL = 102;
    public const PERMISSION_DENIED = 103;
    public const METHOD_NOT_FOUND = 104;
    public const ALREADY_SUBSCRIBED = 105;
    public const LIMIT_EXCEEDED = 106;
    public const BAD_REQUEST = 107;
    public const NOT_AVAILABLE = 108;
    public const TOKEN_EXPIRED = 109;
    public const NOT_SUBSCRIBED = 110;
    public const TOO_MANY_REQUESTS = 111;
    public const UNRECOVERABLE_POSITION = 112;
    public const NOT_FOUND = 113;

    /**
     * @param int $hubCode the hub's error code (0 when the hub did not name one)
     * @param bool $temporary true when retrying the same call later may succeed
     * @param int|null $httpStatus the HTTP status (HTTP API transports)
     * @param int|null $grpcStatus the gRPC status code (gRPC transport)
     */
    public function __construct(
        int $hubCode,
        string $message,
        private readonly bool $temporary = false,
        private readonly ?int $httpStatus = null,
        private readonly ?int $grpcStatus = null,
        ?\Throwable $previous = null,
    ) {
        parent::__construct($message, $hubCode, $previous);
    }

    /**
     * The one funnel from the hub's error (code, message, temporary) to an exception: a
     * temporary error is an UnavailableException whatever its code (retry later); the others
     * by code.
     */
    public static function fromHub(int $code, string $message, bool $temporary, ?int $httpStatus = null, ?int $grpcStatus = null): self
    {
        $class = match (true) {
            $temporary => UnavailableException::class,
            $code === self::BAD_REQUEST, $code === self::UNRECOVERABLE_POSITION => BadRequestException::class,
            $code === self::UNAUTHORIZED, $code === self::TOKEN_EXPIRED => UnauthorizedException::class,
            $code === self::PERMISSION_DENIED => PermissionDeniedException::class,
            $code === self::UNKNOWN_CHANNEL, $code === self::METHOD_NOT_FOUND, $code === self::NOT_FOUND => NotFoundException::class,
            $code === self::LIMIT_EXCEEDED, $code === self::TOO_MANY_REQUESTS => LimitExceededException::class,
            $code === self::NOT_AVAILABLE => NotAvailableException::class,
            default => self::class,
        };
        return new $class($code, $message, $temporary, $httpStatus, $grpcStatus);
    }

    /** The hub's error code, the same as getCode(). */
    public function getHubCode(): int
    {
        return $this->getCode();
    }

    /** True when retrying the same call later may succeed (the hub is shutting down, a store is down, the network failed). */
    public function isTemporary(): bool
    {
        return $this->temporary;
    }

    public function getHttpStatus(): ?int
    {
        return $this->httpStatus;
    }

    public function getGrpcStatus(): ?int
    {
        return $this->grpcStatus;
    }
}
