import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { fileExists, requireTools } from "../helpers/require.js";

/** Debian's chromium; the browser suites skip loudly without it (fail under REALTIME_REQUIRE_ALL=1). */
const CHROMIUM = "/usr/bin/chromium";

export function canRunBrowser(suite: string): boolean {
  return requireTools(suite, { "chromium (Debian package chromium)": fileExists(CHROMIUM) });
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SRC = join(ROOT, "clients/js/src");
const OUT = join(ROOT, "dist/clients/js/src");

/**
 * The hub serves the compiled client at /client/: build it when dist is missing or older than
 * a source file (the global setup builds too; this covers runs that skip it).
 */
export function ensureClientBuilt(): void {
  const newestSource = Math.max(...readdirSync(SRC).filter((f) => f.endsWith(".ts")).map((f) => statSync(join(SRC, f)).mtimeMs));
  const stale = readdirSync(SRC)
    .filter((f) => f.endsWith(".ts"))
    .some((f) => {
      const out = join(OUT, f.replace(/\.ts$/, ".js"));
      return !existsSync(out) || statSync(out).mtimeMs < newestSource;
    });
  if (!stale) return;
  execFileSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "inherit" });
}
