import { existsSync } from "node:fs";

/**
 * A suite whose system dependency is missing skips with a loud message on a developer laptop,
 * but fails under REALTIME_REQUIRE_ALL=1 (CI): there a skip would hide a missing install step.
 * Returns true when the suite can run.
 */
export function requireTools(suite: string, needs: Record<string, boolean>): boolean {
  const missing = Object.entries(needs)
    .filter(([, ok]) => !ok)
    .map(([name]) => name);
  if (missing.length === 0) return true;
  const msg = `${suite}: missing ${missing.join(", ")}`;
  if (process.env.REALTIME_REQUIRE_ALL === "1") throw new Error(`${msg} (REALTIME_REQUIRE_ALL=1: install it, see .ci/run)`);
  console.warn(`\n!!! SKIPPING ${msg} — install it to run this suite (see .ci/run) !!!\n`);
  return false;
}

export const fileExists = (p: string) => existsSync(p);
