<?php

/**
 * Loads the bundle without composer when there is no vendor/: Debian's Symfony 5.4 packages
 * (/usr/share/php), its pure-PHP protobuf runtime, the bundle and the client, the tests.
 */

declare(strict_types=1);

if (is_file(__DIR__ . '/../vendor/autoload.php')) {
    require __DIR__ . '/../vendor/autoload.php';
} else {
    foreach ([
        'Symfony/Bundle/FrameworkBundle',
        'Symfony/Bundle/SecurityBundle',
        'Symfony/Component/Console',
        'Symfony/Component/Messenger',
        'Symfony/Component/Security/Core',
    ] as $package) {
        if (is_file("/usr/share/php/$package/autoload.php")) {
            require_once "/usr/share/php/$package/autoload.php";
        }
    }
    spl_autoload_register(static function (string $class): void {
        foreach (['Google\\Protobuf\\' => 'Google/Protobuf/', 'GPBMetadata\\Google\\Protobuf\\' => 'GPBMetadata/Google/Protobuf/'] as $prefix => $dir) {
            if (str_starts_with($class, $prefix)) {
                $file = '/usr/share/php/' . $dir . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
                if (is_file($file)) {
                    require $file;
                }
                return;
            }
        }
    });
    require __DIR__ . '/../autoload.php';
}
spl_autoload_register(static function (string $class): void {
    $prefix = 'RealtimeHub\\Bundle\\Tests\\';
    if (str_starts_with($class, $prefix)) {
        $file = __DIR__ . '/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
        if (is_file($file)) {
            require $file;
        }
    }
});
