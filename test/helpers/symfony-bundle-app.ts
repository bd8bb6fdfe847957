import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, owned, waitForPort, which } from "./processes.js";
import { fileExists, requireTools } from "./require.js";

/**
 * test/symfony-bundle: a Symfony 5.4 app from Debian's packages (laid out like `symfony new`,
 * config in YAML) that uses clients/php/bundle. Served by `php -S`; bin/console runs its commands.
 */
const APP_DIR = fileURLToPath(new URL("../symfony-bundle/", import.meta.url));
const PHP = which("php");

function phpHas(ext: string): boolean {
  return PHP !== null && spawnSync(PHP, ["-r", `exit(extension_loaded(${JSON.stringify(ext)}) ? 0 : 1);`]).status === 0;
}

/** Whether the bundle's app can run; skips loudly, or fails under REALTIME_REQUIRE_ALL=1. */
export function canRunSymfonyBundle(suite: string): boolean {
  return requireTools(suite, {
    "php (Debian package php-cli)": PHP !== null,
    "composer (Debian package composer)": which("composer") !== null,
    "ext-curl (Debian package php-curl)": phpHas("curl"),
    "the protobuf runtime (Debian package php-google-protobuf)": fileExists("/usr/share/php/Google/Protobuf/Internal/Message.php"),
    "Symfony 5.4 (Debian package php-symfony-framework-bundle)": fileExists("/usr/share/php/Symfony/Bundle/FrameworkBundle/autoload.php"),
    "symfony/yaml (Debian package php-symfony-yaml)": fileExists("/usr/share/php/Symfony/Component/Yaml/autoload.php"),
    "symfony/console (Debian package php-symfony-console)": fileExists("/usr/share/php/Symfony/Component/Console/autoload.php"),
    "symfony/messenger (Debian package php-symfony-messenger)": fileExists("/usr/share/php/Symfony/Component/Messenger/autoload.php"),
    "symfony/security-bundle (Debian package php-symfony-security-bundle)": fileExists("/usr/share/php/Symfony/Bundle/SecurityBundle/autoload.php"),
  });
}

interface ConsoleRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface SymfonyBundleApp {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** The app's cache and logs (APP_CACHE_DIR), removed by stop(). */
  readonly varDir: string;
  /** The environment the app runs with (REALTIME_DSN etc.), for console() and children of the test. */
  readonly env: Record<string, string>;
  /** `php bin/console ...args` with the app's environment; asynchronous, so the hub in this process keeps serving. */
  console(args: string[], opts?: { env?: Record<string, string>; timeoutMs?: number }): Promise<ConsoleRun>;
  /** Any PHP script (a PHPUnit run) with the app's environment plus `env`, asynchronously. */
  run(script: string, args: string[], opts?: { env?: Record<string, string>; timeoutMs?: number }): Promise<ConsoleRun>;
  /** `php bin/console ...args` left running (a worker: realtime:consume, messenger:consume); owned, so killed at exit. */
  spawnConsole(args: string[], opts?: { env?: Record<string, string> }): ChildProcess;
  /** The server's log (requests, PHP errors), for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts test/symfony-bundle on a free loopback port. `env` is the app's environment: at least
 * REALTIME_DSN and REALTIME_API_KEY (config/packages/realtime.yaml reads them), and whatever its
 * other config files read. One PHP process answers the calls one at a time.
 */
export async function startSymfonyBundleApp(env: Record<string, string>): Promise<SymfonyBundleApp> {
  if (!PHP) throw new Error("php not found (Debian package php-cli)");
  const port = await freePort();
  const varDir = mkdtempSync(join(tmpdir(), "realtime-hub-symfony-bundle-"));
  const appEnv: Record<string, string> = {
    APP_ENV: "prod",
    APP_SECRET: "symfony-bundle-test-app",
    APP_CACHE_DIR: varDir,
    REALTIME_TOKEN_SECRET: "",
    REALTIME_WEBHOOK_SECRET: "",
    ...env,
  };
  let output = "";
  const child: ChildProcess = owned(
    spawn(PHP, ["-d", "display_errors=stderr", "-S", `127.0.0.1:${port}`, join(APP_DIR, "public/index.php")], {
      cwd: APP_DIR,
      env: { ...process.env, ...appEnv },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  child.stdout!.on("data", (d) => (output = (output + d).slice(-20_000)));
  child.stderr!.on("data", (d) => (output = (output + d).slice(-20_000)));
  const url = `http://127.0.0.1:${port}`;
  const consoleArgs = (args: string[]) => ["-d", "display_errors=stderr", join(APP_DIR, "bin/console"), ...args, "--no-interaction"];
  const run = (script: string, args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}) =>
    new Promise<ConsoleRun>((resolve) =>
      execFile(
        PHP,
        ["-d", "display_errors=stderr", script, ...args],
        { cwd: APP_DIR, encoding: "utf8", timeout: opts.timeoutMs ?? 60_000, env: { ...process.env, ...appEnv, ...opts.env }, maxBuffer: 16 << 20 },
        (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
      ),
    );
  const console = (args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}) =>
    run(join(APP_DIR, "bin/console"), [...args, "--no-interaction"], opts);
  const spawnConsole = (args: string[], opts: { env?: Record<string, string> } = {}) =>
    owned(spawn(PHP, consoleArgs(args), { cwd: APP_DIR, env: { ...process.env, ...appEnv, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] }));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(t);
    }
    rmSync(varDir, { recursive: true, force: true });
  };
  try {
    // Compile the container once, before the server and the console race to write the cache.
    const warm = await console(["cache:warmup"], { timeoutMs: 120_000 });
    if (warm.code !== 0) throw new Error(`bin/console cache:warmup failed (${warm.code}):\n${warm.stdout}\n${warm.stderr}`);
    await waitForPort(port);
  } catch (err) {
    await stop();
    throw new Error(`the Symfony bundle app did not start: ${(err as Error).message}\n${output}`);
  }
  return { url, varDir, env: appEnv, console, run, spawnConsole, output: () => output, stop };
}
