<?php

declare(strict_types=1);

namespace RealtimeHub\Client\Exception;

/** A quota or size limit (106, 111): send less, or later. */
class LimitExceededException extends HubException
{
}
