<?php

declare(strict_types=1);

namespace RealtimeHub\Client\Exception;

/** The request is wrong (107: a bad channel name, a missing field, a key too long; 112): fix it, do not retry. */
class BadRequestException extends HubException
{
}
