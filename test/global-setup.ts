import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * Builds dist/ once before the suites, as `npm run build` does: the CLI tests run the real
 * `realtime-hub` binary, the browser tests load the compiled browser client and its one-file
 * bundle (/client.js).
 */
export default function setup(): void {
  const root = fileURLToPath(new URL("..", import.meta.url));
  execFileSync(process.execPath, [fileURLToPath(new URL("../node_modules/typescript/bin/tsc", import.meta.url)), "-p", "tsconfig.build.json"], {
    cwd: root,
    stdio: "inherit",
  });
  execFileSync(process.execPath, [fileURLToPath(new URL("../clients/js/bundle.mjs", import.meta.url)), "--if-stale"], { cwd: root, stdio: "inherit" });
}
