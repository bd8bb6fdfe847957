import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PKG = join(ROOT, "clients/js");
const TSC = join(ROOT, "node_modules/typescript/bin/tsc");

/**
 * clients/js as the npm package @realtime-hub/client: its own build (ESM + .d.ts), what
 * `npm pack` would publish, and an app that installs it, with TypeScript (nodenext and
 * bundler resolution) and with Node.
 */
describe("the browser client as an npm package", () => {
  let app: string;
  beforeAll(() => {
    execFileSync("npm", ["run", "build", "--silent"], { cwd: PKG, stdio: "inherit", timeout: 60_000 });
    app = mkdtempSync(join(tmpdir(), "rh-client-app-"));
    mkdirSync(join(app, "node_modules/@realtime-hub"), { recursive: true });
    // What `npm install ../clients/js` does for a folder: a link.
    symlinkSync(PKG, join(app, "node_modules/@realtime-hub/client"), "dir");
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  });
  afterAll(() => {
    if (app) rmSync(app, { recursive: true, force: true });
  });

  it("packs the built ESM with its declarations, the sources and the README, nothing else", () => {
    const [packed] = JSON.parse(execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: PKG, timeout: 60_000 }).toString()) as [
      { name: string; files: { path: string }[] },
    ];
    const files = packed.files.map((f) => f.path);
    expect(packed.name).toBe("@realtime-hub/client");
    for (const f of ["package.json", "README.md", "dist/index.js", "dist/index.d.ts", "dist/client.d.ts", "dist/longpoll-transport.js", "src/index.ts"])
      expect(files).toContain(f);
    expect(files.filter((f) => !/^(package\.json|README\.md|dist\/|src\/)/.test(f))).toEqual([]);
  });

  it("type-checks an app that imports it (nodenext and bundler resolution), and catches a wrong option", () => {
    writeFileSync(
      join(app, "app.ts"),
      `import { RealtimeClient, RealtimeError, type Publication } from "@realtime-hub/client";
const client = new RealtimeClient("wss://hub.example/connection/websocket", { transport: "auto", getToken: async () => "jwt" });
const sub = client.subscribe<{ text: string }>("chat:lobby", { onPublication: (p: Publication<{ text: string }>) => p.data.text.toUpperCase() });
export const done: Promise<unknown> = sub.publish({ text: "hi" }).then(() => client.rpc("ns:method", { a: 1 }));
export const isError = (e: unknown): boolean => e instanceof RealtimeError && e.code === 5;
// @ts-expect-error: no such transport
new RealtimeClient("wss://hub.example/connection/websocket", { transport: "carrier-pigeon" });
`,
    );
    for (const resolution of [
      { module: "nodenext", moduleResolution: "nodenext" },
      { module: "esnext", moduleResolution: "bundler" },
    ]) {
      writeFileSync(
        join(app, "tsconfig.json"),
        JSON.stringify({ compilerOptions: { ...resolution, target: "es2022", lib: ["es2022", "dom"], types: [], strict: true, noEmit: true }, files: ["app.ts"] }),
      );
      expect(() => execFileSync(process.execPath, [TSC, "-p", app], { cwd: app, timeout: 60_000, stdio: "pipe" })).not.toThrow();
    }
  });

  it("imports in Node through its exports map", () => {
    const out = execFileSync(
      process.execPath,
      ["--input-type=module", "-e", 'const m = await import("@realtime-hub/client"); console.log(typeof m.RealtimeClient, m.CLIENT_VERSION);'],
      { cwd: app, timeout: 30_000 },
    ).toString();
    const version = (JSON.parse(execFileSync(process.execPath, ["-p", "JSON.stringify(require('./package.json'))"], { cwd: PKG }).toString()) as { version: string }).version;
    expect(out.trim()).toBe(`function ${version}`);
  });
});
