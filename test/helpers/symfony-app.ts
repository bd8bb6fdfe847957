import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, owned, waitForPort, which } from "./processes.js";
import { fileExists, requireTools } from "./require.js";

/** Debian's Symfony 5.4 (php-symfony-framework-bundle): the app loads it from here, no composer. */
const FRAMEWORK_AUTOLOAD = "/usr/share/php/Symfony/Bundle/FrameworkBundle/autoload.php";
const APP_DIR = fileURLToPath(new URL("../symfony", import.meta.url));

/** Whether the Symfony app can run; skips loudly, or fails under REALTIME_REQUIRE_ALL=1. */
export function canRunSymfony(suite: string): boolean {
  return requireTools(suite, {
    "php (Debian package php-cli)": which("php") !== null,
    "Symfony 5.4 (Debian package php-symfony-framework-bundle)": fileExists(FRAMEWORK_AUTOLOAD),
  });
}

/** test/symfony served by `php -S` on a free loopback port. */
export interface SymfonyApp {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** Where the app keeps its cache, sessions and the notifications it recorded (realtime-events/). */
  readonly varDir: string;
  /** The server's log (requests, PHP errors), for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts test/symfony with this webhook secret and the hub's server API, in a cache directory of its own (removed by
 * stop()). One PHP process answers the calls one at a time; PHP_CLI_SERVER_WORKERS would fork
 * workers that outlive a killed parent.
 */
export async function startSymfonyApp(opts: { secret: string; hubUrl: string; apiKey: string }): Promise<SymfonyApp> {
  const php = which("php");
  if (!php) throw new Error("php not found (Debian package php-cli)");
  const port = await freePort();
  const varDir = mkdtempSync(join(tmpdir(), "realtime-hub-symfony-"));
  let output = "";
  const child: ChildProcess = owned(
    spawn(php, ["-d", "display_errors=stderr", "-S", `127.0.0.1:${port}`, join(APP_DIR, "public/index.php")], {
      cwd: APP_DIR,
      env: {
        ...process.env,
        APP_CACHE_DIR: varDir,
        APP_SECRET: "symfony-test-app",
        REALTIME_PROXY_SECRET: opts.secret,
        // The broker-first side: where and with which key the app publishes (HubPublisher).
        REALTIME_HUB_URL: opts.hubUrl,
        REALTIME_API_KEY: opts.apiKey,
      },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  child.stdout!.on("data", (d) => (output = (output + d).slice(-20_000)));
  child.stderr!.on("data", (d) => (output = (output + d).slice(-20_000)));
  const url = `http://127.0.0.1:${port}`;
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
    await waitForPort(port);
    // The first request compiles the container: done here, not inside a test's webhook timeout.
    const res = await fetch(`${url}/login`);
    if (res.status !== 200) throw new Error(`GET /login answered ${res.status}: ${await res.text()}`);
  } catch (err) {
    await stop();
    throw new Error(`the Symfony app did not start: ${(err as Error).message}\n${output}`);
  }
  return { url, varDir, output: () => output, stop };
}
