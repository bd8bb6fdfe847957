<?php

/**
 * The package's own PSR-4 loader, for apps that do not use composer (Debian's php packages,
 * the tests). It loads this package's classes and the generated message classes; the
 * google/protobuf runtime must be loadable already (composer, or a loader of your own for
 * Debian's /usr/share/php/Google/Protobuf, see tests/bootstrap.php).
 */

declare(strict_types=1);

spl_autoload_register(static function (string $class): void {
    static $prefixes = [
        'RealtimeHub\\Client\\' => __DIR__ . '/src/',
        'Realtime\\V1\\' => __DIR__ . '/gen/Realtime/V1/',
        'GPBMetadata\\Realtime\\V1\\' => __DIR__ . '/gen/GPBMetadata/Realtime/V1/',
    ];
    foreach ($prefixes as $prefix => $dir) {
        if (strncmp($class, $prefix, strlen($prefix)) === 0) {
            $file = $dir . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
            if (is_file($file)) {
                require $file;
            }
            return;
        }
    }
});
