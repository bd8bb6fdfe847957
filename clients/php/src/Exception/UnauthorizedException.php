<?php

declare(strict_types=1);

namespace RealtimeHub\Client\Exception;

/** The API key (or a token) is missing, wrong or expired (101, 109). */
class UnauthorizedException extends HubException
{
}
