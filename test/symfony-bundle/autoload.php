<?php

// What composer's vendor/autoload.php does in a real app, here from Debian's packages (no
// composer registry on the test machine): Symfony 5.4 under /usr/share/php, the pure-PHP
// protobuf runtime (it has no loader of its own), the bundle (which loads the client), App\.

declare(strict_types=1);

foreach ([
    'Symfony/Bundle/FrameworkBundle',
    'Symfony/Bundle/SecurityBundle',
    'Symfony/Component/Yaml',
    'Symfony/Component/Console',
    'Symfony/Component/Messenger',
    'Symfony/Component/Messenger/Bridge/Redis',
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
    if (str_starts_with($class, 'App\\')) {
        $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, 4)) . '.php';
        if (is_file($file)) {
            require $file;
        }
    }
});

require_once __DIR__ . '/../../clients/php/bundle/autoload.php';
