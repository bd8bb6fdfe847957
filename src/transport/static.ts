import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The project root (holds package.json), found from src/transport or dist/src/transport. */
const PROJECT_ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "proto"))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
})();

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".map": "application/json",
  ".svg": "image/svg+xml",
};

/** What a path serves: the file, whether pages of any origin may load it, and how long caches keep it. */
interface StaticFile {
  file: string;
  /** A public script (and its map): any page may load it, so `Access-Control-Allow-Origin: *`. */
  cors: boolean;
  cacheControl: string;
  /** The 404 text when the file is missing. */
  missing: string;
}

const NOT_BUILT = "browser client not built: run `npm run build`\n";

/** The admin page, served at /admin only with config.admin on (http-server.ts checks, admin-page.ts adds its headers). */
export const ADMIN_PAGE_FILE = join(PROJECT_ROOT, "admin", "index.html");

/**
 * The static files of the HTTP edge:
 * - `/` (and `/index.html`): the demo page; `/favicon.svg`: its icon.
 * - `/client.js` (and its `.map`): the browser client as one ES module, for pages of any origin.
 * - `/client/<file>.js`: the client's modules one by one, as the hub's own pages import them.
 * - `/admin` (and `/admin/`): the admin page, never cached.
 */
function resolve(path: string): StaticFile | null {
  if (path === "/" || path === "/index.html")
    return { file: join(PROJECT_ROOT, "demo", "index.html"), cors: false, cacheControl: "no-cache", missing: "demo page not found\n" };
  if (path === "/admin" || path === "/admin/")
    return { file: ADMIN_PAGE_FILE, cors: false, cacheControl: "no-store", missing: "admin page not found\n" };
  if (path === "/favicon.svg")
    return { file: join(PROJECT_ROOT, "demo", "favicon.svg"), cors: false, cacheControl: "public, max-age=86400", missing: "no icon\n" };
  if (path === "/client.js" || path === "/client.js.map")
    // One file, so it cannot mix versions: caches may keep it a few minutes before they ask
    // again (with If-None-Match, answered 304 while it is unchanged).
    return { file: join(PROJECT_ROOT, "dist", "clients", "js", path.slice(1)), cors: true, cacheControl: "public, max-age=300", missing: NOT_BUILT };
  const m = /^\/client\/([A-Za-z0-9_-]+\.js(?:\.map)?)$/.exec(path);
  if (m)
    // Modules import each other: a cache must ask every time, or a page could run an old
    // module with a new one after an upgrade.
    return { file: join(PROJECT_ROOT, "dist", "clients", "js", "src", m[1]!), cors: true, cacheControl: "no-cache", missing: NOT_BUILT };
  return null;
}

/** Bodies and validators of files already read, until their size or modification time changes. */
const cache = new Map<string, { mtimeMs: number; size: number; body: Buffer; etag: string }>();

async function load(file: string): Promise<{ body: Buffer; etag: string; mtime: Date }> {
  const st = await stat(file);
  const hit = cache.get(file);
  if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return { ...hit, mtime: st.mtime };
  const body = await readFile(file);
  const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
  cache.set(file, { mtimeMs: st.mtimeMs, size: st.size, body, etag });
  return { body, etag, mtime: st.mtime };
}

/**
 * Answers GET and HEAD of a static path (HEAD: the same headers, no body); false when the
 * path is not a static one. `/favicon.ico` answers 204: browsers ask for it on every page,
 * and the demo names its icon itself.
 */
export async function serveStatic(req: IncomingMessage, path: string, res: ServerResponse): Promise<boolean> {
  if (path === "/favicon.ico") {
    res.writeHead(204, { "Cache-Control": "public, max-age=86400" });
    res.end();
    return true;
  }
  const target = resolve(path);
  if (!target) return false;
  const headers: Record<string, string> = {};
  if (target.cors) {
    headers["Access-Control-Allow-Origin"] = "*";
    // Pages that isolate themselves (Cross-Origin-Embedder-Policy) load it too.
    headers["Cross-Origin-Resource-Policy"] = "cross-origin";
  }
  let file: Awaited<ReturnType<typeof load>>;
  try {
    file = await load(target.file);
  } catch {
    res.writeHead(404, { ...headers, "Content-Type": "text/plain; charset=utf-8", "Content-Length": Buffer.byteLength(target.missing) });
    res.end(target.missing);
    return true;
  }
  headers["Cache-Control"] = target.cacheControl;
  headers.ETag = file.etag;
  headers["Last-Modified"] = file.mtime.toUTCString();
  if (notModified(req, file.etag, file.mtime)) {
    res.writeHead(304, headers);
    res.end();
    return true;
  }
  const ext = target.file.slice(target.file.lastIndexOf("."));
  res.writeHead(200, { ...headers, "Content-Type": TYPES[ext] ?? "application/octet-stream", "Content-Length": file.body.length });
  // Node sends no body in answer to HEAD.
  res.end(file.body);
  return true;
}

/** RFC 9110 13.1: If-None-Match wins; If-Modified-Since counts only without it, in whole seconds. */
function notModified(req: IncomingMessage, etag: string, mtime: Date): boolean {
  const inm = req.headers["if-none-match"];
  if (inm !== undefined) return inm.trim() === "*" || inm.split(",").some((t) => t.trim().replace(/^W\//, "") === etag);
  const ims = req.headers["if-modified-since"];
  if (ims === undefined) return false;
  const since = Date.parse(ims);
  return !Number.isNaN(since) && Math.floor(mtime.getTime() / 1000) * 1000 <= since;
}
