import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { envName, kebab, readmeTable, SCALAR_KEYS } from "../../src/config.js";

describe("README", () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  it("documents every setting with its flag and env var", () => {
    for (const k of SCALAR_KEYS) {
      expect(readme, `--${kebab(k)}`).toContain(`\`--${kebab(k)}\``);
      expect(readme, envName(k)).toContain(`\`${envName(k)}\``);
    }
  });

  it("has the settings table as its configuration table: same rows, same order, same flag, env, default and doc", () => {
    // On a difference, the expected side is the table to paste (src/config/settings.ts is the source).
    const lines = readme.split("\n");
    const section = lines.indexOf("## Configuration");
    expect(section).toBeGreaterThanOrEqual(0);
    const start = lines.findIndex((l, i) => i > section && l.startsWith("|"));
    expect(start).toBeGreaterThan(section);
    const end = lines.findIndex((l, i) => i > start && !l.startsWith("|"));
    expect(lines.slice(start, end)).toEqual(readmeTable());
    // One table only: no second copy further down that could drift.
    expect(lines.filter((l) => l.startsWith("| `--http-addr`")).length).toBe(1);
  });

  it("keeps the two Quick start commands", () => {
    expect(readme).toContain("npm ci && npm start");
    expect(readme).toContain("npm ci && npm test");
  });
});
