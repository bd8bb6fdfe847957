<?php

declare(strict_types=1);

namespace RealtimeHub\Client\Exception;

/** A feature is off for the channel (108: presence or history not enabled in its namespace); retrying cannot help until the hub's config changes. */
class NotAvailableException extends HubException
{
}
