<?php

/**
 * Loads the package without composer: the google/protobuf runtime from a composer vendor/
 * directory when there is one, else Debian's php-google-protobuf (/usr/share/php, which has
 * no autoloader of its own), then the package's own loader.
 */

declare(strict_types=1);

if (is_file(__DIR__ . '/../vendor/autoload.php')) {
    require __DIR__ . '/../vendor/autoload.php';
} else {
    $debian = getenv('REALTIME_PHP_PROTOBUF_DIR') ?: '/usr/share/php';
    spl_autoload_register(static function (string $class) use ($debian): void {
        foreach (['Google\\Protobuf\\' => 'Google/Protobuf/', 'GPBMetadata\\Google\\Protobuf\\' => 'GPBMetadata/Google/Protobuf/'] as $prefix => $dir) {
            if (str_starts_with($class, $prefix)) {
                $file = "$debian/$dir" . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
                if (is_file($file)) {
                    require $file;
                }
                return;
            }
        }
    });
}
require __DIR__ . '/../autoload.php';
spl_autoload_register(static function (string $class): void {
    $prefix = 'RealtimeHub\\Client\\Tests\\';
    if (str_starts_with($class, $prefix)) {
        $file = __DIR__ . '/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
        if (is_file($file)) {
            require $file;
        }
    }
});
