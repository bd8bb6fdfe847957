import { execFileSync } from "node:child_process";
import { request } from "node:http";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestHub, type TestHub } from "../helpers/hub.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** One request with Node's http (fetch hides HEAD details and cannot send some headers). */
function get(hub: TestHub, path: string, method = "GET", headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const req = request(`${hub.httpUrl}${path}`, { method, headers, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer in 5 s`)));
    req.on("error", reject);
    req.end();
  });
}

/** The demo page, the browser client (one-file bundle and modules) and the icon, as the hub serves them. */
describe("static files of the HTTP edge", () => {
  let hub: TestHub;
  beforeAll(async () => {
    execFileSync(process.execPath, ["clients/js/bundle.mjs", "--if-stale"], { cwd: ROOT, stdio: "inherit", timeout: 60_000 });
    hub = await startTestHub();
  });
  afterAll(() => hub?.stop());

  it("serves the bundle at /client.js to any origin, with validators and a short cache life", async () => {
    const r = await get(hub, "/client.js", "GET", { Origin: "https://app.example" });
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(r.headers["access-control-allow-origin"]).toBe("*");
    expect(r.headers["cache-control"]).toBe("public, max-age=300");
    expect(r.headers.etag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    expect(new Date(String(r.headers["last-modified"])).getTime()).toBeGreaterThan(0);
    // One ES module: no import of another file, and the public API exported.
    expect(r.body).not.toMatch(/\bimport\s*[{*"']|\bfrom\s*["']/);
    expect(r.body).toMatch(/export\s*\{[^}]*\bas RealtimeClient\b/);
    expect(Number(r.headers["content-length"])).toBe(Buffer.byteLength(r.body));
    const map = await get(hub, "/client.js.map");
    expect([map.status, map.headers["access-control-allow-origin"]]).toEqual([200, "*"]);
    expect(JSON.parse(map.body).sources.some((s: string) => s.endsWith("client.ts"))).toBe(true);
  });

  it("answers 304 to a matching If-None-Match or a recent If-Modified-Since, 200 otherwise", async () => {
    const first = await get(hub, "/client.js");
    const etag = String(first.headers.etag);
    const same = await get(hub, "/client.js", "GET", { "If-None-Match": etag });
    expect([same.status, same.body, same.headers.etag, same.headers["access-control-allow-origin"]]).toEqual([304, "", etag, "*"]);
    expect((await get(hub, "/client.js", "GET", { "If-None-Match": `"other", W/${etag}` })).status).toBe(304);
    expect((await get(hub, "/client.js", "GET", { "If-None-Match": '"other"' })).status).toBe(200);
    const lastModified = String(first.headers["last-modified"]);
    expect((await get(hub, "/client.js", "GET", { "If-Modified-Since": lastModified })).status).toBe(304);
    expect((await get(hub, "/client.js", "GET", { "If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT" })).status).toBe(200);
    // If-None-Match wins over If-Modified-Since.
    expect((await get(hub, "/client.js", "GET", { "If-None-Match": '"other"', "If-Modified-Since": lastModified })).status).toBe(200);
    const page = await get(hub, "/");
    expect((await get(hub, "/", "GET", { "If-None-Match": String(page.headers.etag) })).status).toBe(304);
  });

  it("answers HEAD like GET, without a body", async () => {
    for (const path of ["/", "/client.js", "/client/index.js", "/favicon.svg"]) {
      const g = await get(hub, path);
      const h = await get(hub, path, "HEAD");
      expect([path, h.status, h.body]).toEqual([path, 200, ""]);
      for (const name of ["content-type", "content-length", "etag", "last-modified", "cache-control", "access-control-allow-origin"])
        expect([path, name, h.headers[name]]).toEqual([path, name, g.headers[name]]);
    }
    expect((await get(hub, "/nothing-here", "HEAD")).status).toBe(404);
  });

  it("serves the demo page, its icon, 204 for /favicon.ico, and the client modules with CORS", async () => {
    const page = await get(hub, "/");
    expect([page.status, page.headers["content-type"], page.headers["cache-control"]]).toEqual([200, "text/html; charset=utf-8", "no-cache"]);
    expect(page.headers["access-control-allow-origin"]).toBeUndefined();
    expect(page.body).toContain('rel="icon"');
    const ico = await get(hub, "/favicon.ico");
    expect([ico.status, ico.body]).toEqual([204, ""]);
    const svg = await get(hub, "/favicon.svg");
    expect([svg.status, svg.headers["content-type"]]).toEqual([200, "image/svg+xml"]);
    const mod = await get(hub, "/client/index.js", "GET", { Origin: "https://app.example" });
    expect([mod.status, mod.headers["access-control-allow-origin"], mod.headers["cache-control"]]).toEqual([200, "*", "no-cache"]);
    expect(mod.body).toContain('from "./client.js"');
  });

  it("the hub's package (npm pack) ships every file the edge serves", () => {
    const [packed] = JSON.parse(execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: ROOT, timeout: 60_000 }).toString()) as [
      { files: { path: string }[] },
    ];
    const files = packed.files.map((f) => f.path);
    for (const f of ["demo/index.html", "demo/favicon.svg", "admin/index.html", "dist/clients/js/client.js", "dist/clients/js/client.js.map", "dist/clients/js/src/index.js", "dist/src/main.js"])
      expect(files).toContain(f);
  });

  it("serves nothing else: other files, traversal and other methods are 404", async () => {
    for (const path of ["/client/../package.json", "/client/%2e%2e/package.json", "/client/nope.js", "/demo/index.html", "/client.ts"])
      expect([path, (await get(hub, path)).status]).toEqual([path, 404]);
    expect((await get(hub, "/client.js", "POST")).status).toBe(404);
  });
});
