<?php

declare(strict_types=1);

namespace RealtimeHub\Client\Exception;

/** Identified, but not allowed (103). */
class PermissionDeniedException extends HubException
{
}
