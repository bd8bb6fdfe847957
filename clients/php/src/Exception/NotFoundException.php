<?php

declare(strict_types=1);

namespace RealtimeHub\Client\Exception;

/** What the call names does not exist (102 unknown channel namespace, 104, 113). */
class NotFoundException extends HubException
{
}
