<?php

// The webhook backend of the Symfony-first mode (docs/symfony.md, test/e2e/symfony.test.ts):
// Debian's Symfony 5.4 (php-symfony-framework-bundle), no composer and no vendor/, served by
// `php -S 127.0.0.1:<port> public/index.php`.
require '/usr/share/php/Symfony/Bundle/FrameworkBundle/autoload.php';

// What composer's PSR-4 autoloader would do for App\ in a real project.
spl_autoload_register(static function (string $class): void {
    if (str_starts_with($class, 'App\\')) {
        require __DIR__.'/../src/'.str_replace('\\', '/', substr($class, 4)).'.php';
    }
});

$kernel = new App\Kernel('prod', (bool) ($_SERVER['APP_DEBUG'] ?? false));
$request = Symfony\Component\HttpFoundation\Request::createFromGlobals();
$response = $kernel->handle($request);
$response->send();
$kernel->terminate($request, $response);
