import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { envName, kebab, SCALAR_KEYS } from "../../src/config.js";

describe("README", () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  it("documents every setting with its flag and env var", () => {
    for (const k of SCALAR_KEYS) {
      expect(readme, `--${kebab(k)}`).toContain(`\`--${kebab(k)}\``);
      expect(readme, envName(k)).toContain(`\`${envName(k)}\``);
    }
  });
  it("keeps the two Quick start commands", () => {
    expect(readme).toContain("npm ci && npm start");
    expect(readme).toContain("npm ci && npm test");
  });
});
