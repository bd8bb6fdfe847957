import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ServerResponse } from "node:http";

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
};

/** `/` -> the demo page; `/client/<file>.js` -> the built browser client. */
export async function serveStatic(path: string, res: ServerResponse): Promise<boolean> {
  let file: string | undefined;
  if (path === "/" || path === "/index.html") file = join(PROJECT_ROOT, "demo", "index.html");
  else {
    const m = /^\/client\/([A-Za-z0-9_\-]+\.js(?:\.map)?)$/.exec(path);
    if (m) file = join(PROJECT_ROOT, "dist", "clients", "js", "src", m[1]!);
  }
  if (!file) return false;
  try {
    const body = await readFile(file);
    const ext = file.slice(file.lastIndexOf("."));
    res.writeHead(200, { "Content-Type": TYPES[ext] ?? "application/octet-stream", "Cache-Control": "no-cache" });
    res.end(body);
  } catch {
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end(
      path.startsWith("/client/")
        ? "browser client not built: run `npm run build`\n"
        : "demo page not found\n",
    );
  }
  return true;
}
