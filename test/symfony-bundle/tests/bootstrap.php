<?php

declare(strict_types=1);

// What vendor/autoload.php gives a composer app; here Debian's packages, the bundle and App\.
require dirname(__DIR__) . '/autoload.php';
