import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import type { ServerResponse } from "node:http";
import type { Config } from "../config.js";
import type { Logger } from "../log.js";

/** Where the admin page is served (static.ts serves the file, admin/index.html). */
const ADMIN_PATH = "/admin";

export const isAdminPath = (path: string): boolean => path === ADMIN_PATH || path === `${ADMIN_PATH}/`;

/**
 * Says at start that the admin page is on, and in --dev says it loudly: the hub there runs
 * with every namespace open, and without an API key the page, like the API it calls, is open
 * to anyone who reaches the port.
 */
export function logAdminPage(config: Config, log: Logger): void {
  if (!config.admin) return;
  const where = { path: ADMIN_PATH, httpAddr: config.httpAddr, adminToken: config.adminToken !== "" };
  if (!config.dev) return void log.info(where, "admin page on: sign in with the API key or the admin token");
  if (!config.apiKey)
    return void log.warn(
      where,
      "ADMIN PAGE ON IN --dev AND OPEN: no apiKey, so anyone who reaches httpAddr can use /admin and the HTTP API it calls (publish, disconnect users, remove history). Never run this in production.",
    );
  log.warn(where, "ADMIN PAGE ON IN --dev: /admin signs in with the API key or the admin token. Never run --dev in production.");
}

/**
 * The admin page's own response headers, set before static.ts answers with the file (no-store there): no
 * framing (clickjacking an admin action), no Referer, and a Content-Security-Policy
 * that runs only the page's own inline script and style (by their hashes) and lets it talk to
 * its own origin only. Channel names and payloads are user data: the page shows them as text,
 * and should one slip into markup anyway, the policy keeps it from running.
 */
export function setAdminPageHeaders(res: ServerResponse, file: string): void {
  const { script, style } = inlineHashes(file);
  res.setHeader(
    "Content-Security-Policy",
    [
      "default-src 'none'",
      `script-src ${script.map((h) => `'${h}'`).join(" ") || "'none'"}`,
      `style-src ${style.map((h) => `'${h}'`).join(" ") || "'none'"}`,
      "connect-src 'self'",
      "img-src 'self'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join("; "),
  );
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("X-Content-Type-Options", "nosniff");
}

/** The sha256 sources of the page's inline <script> and <style> elements, read again when the file changes. */
let hashes: { mtimeMs: number; size: number; script: string[]; style: string[] } | null = null;

function inlineHashes(file: string): { script: string[]; style: string[] } {
  let st: { mtimeMs: number; size: number };
  try {
    st = statSync(file);
  } catch {
    return { script: [], style: [] }; // static.ts answers 404
  }
  if (hashes && hashes.mtimeMs === st.mtimeMs && hashes.size === st.size) return hashes;
  const html = readFileSync(file, "utf8");
  const of = (tag: string) =>
    [...html.matchAll(new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`, "g"))].map(
      (m) => `sha256-${createHash("sha256").update(m[1]!, "utf8").digest("base64")}`,
    );
  hashes = { mtimeMs: st.mtimeMs, size: st.size, script: of("script"), style: of("style") };
  return hashes;
}
