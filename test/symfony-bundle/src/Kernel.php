<?php

declare(strict_types=1);

namespace App;

use Symfony\Bundle\FrameworkBundle\Kernel\MicroKernelTrait;
use Symfony\Component\HttpKernel\Kernel as BaseKernel;

/** A Symfony 5.4 app laid out as `symfony new` makes it (config/packages/*.yaml, bundles.php), using the bundle. */
final class Kernel extends BaseKernel
{
    use MicroKernelTrait;

    public function getProjectDir(): string
    {
        return \dirname(__DIR__);
    }

    // Out of the source tree: each test run has a directory of its own (php -S gives the
    // environment to getenv(), not to $_SERVER, where MicroKernelTrait looks).
    public function getCacheDir(): string
    {
        return (getenv('APP_CACHE_DIR') ?: sys_get_temp_dir() . '/realtime-hub-symfony-bundle') . '/' . $this->environment;
    }

    public function getLogDir(): string
    {
        return $this->getCacheDir() . '/log';
    }
}
