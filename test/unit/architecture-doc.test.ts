import { describe, expect, it } from "vitest";
import { existsSync, readdirSync, readFileSync } from "node:fs";

/** docs/architecture.md names files and functions; a rename must not leave it pointing nowhere. */
describe("docs/architecture.md", () => {
  const doc = readFileSync(new URL("../../docs/architecture.md", import.meta.url), "utf8");
  const root = new URL("../../", import.meta.url);
  const files = [
    ...(readdirSync(new URL("src", root), { recursive: true }) as string[]).map((f) => `src/${f}`),
    ...(readdirSync(new URL("test", root), { recursive: true }) as string[]).map((f) => `test/${f}`),
  ];

  it("names only files that exist", () => {
    const named = new Set([...doc.matchAll(/\b([\w-]+\/)*[\w.-]+\.ts\b/g)].map((m) => m[0]));
    expect(named.size).toBeGreaterThan(20);
    for (const f of named) expect(files.some((p) => p === f || p.endsWith(`/${f}`)), f).toBe(true);
  });

  it("names only functions and classes the code has", () => {
    const named = [...doc.matchAll(/`([\w-]+(?:\/[\w-]+)*\.ts)` `(?:(\w+)\.)?(\w+)`/g)];
    expect(named.length).toBeGreaterThan(10);
    for (const [, file, cls, member] of named) {
      const path = [`src/${file}`, `src/transport/${file}`].find((c) => existsSync(new URL(c, root)))!;
      const text = readFileSync(new URL(path, root), "utf8");
      if (cls) expect(text, `${file}: class ${cls}`).toMatch(new RegExp(`class ${cls}\\b`));
      expect(text, `${file}: ${member}`).toMatch(new RegExp(`\\b${member}\\b`));
    }
  });
});
