<?php

/**
 * The bundle's own PSR-4 loader, for apps without composer (Debian's php packages, the tests).
 * It loads the client library's loader too; Symfony and google/protobuf must be loadable already.
 */

declare(strict_types=1);

require_once __DIR__ . '/../autoload.php';

spl_autoload_register(static function (string $class): void {
    $prefix = 'RealtimeHub\\Bundle\\';
    if (strncmp($class, $prefix, strlen($prefix)) === 0) {
        $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
        if (is_file($file)) {
            require $file;
        }
    }
});
