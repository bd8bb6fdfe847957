import type { IncomingMessage } from "node:http";
import type { ConnectionRequest } from "../transport.js";

/**
 * Captures what webhooks may see of the request that opens a connection: its address, its
 * Origin, and the headers and cookies named in `forward`, nothing else.
 */
export function captureRequest(req: IncomingMessage, forward: { headers: readonly string[]; cookies: readonly string[] }): ConnectionRequest {
  const headers: Record<string, string> = {};
  for (const name of forward.headers) {
    const v = req.headers[name];
    if (v !== undefined) headers[name] = Array.isArray(v) ? v.join(", ") : v;
  }
  const cookies: Record<string, string> = {};
  if (forward.cookies.length > 0 && typeof req.headers.cookie === "string") {
    const wanted = new Set(forward.cookies);
    for (const part of req.headers.cookie.split(";")) {
      const eq = part.indexOf("=");
      if (eq < 0) continue;
      const name = part.slice(0, eq).trim();
      if (wanted.has(name) && !Object.hasOwn(cookies, name)) cookies[name] = part.slice(eq + 1).trim();
    }
  }
  const origin = req.headers.origin;
  return { remoteAddr: req.socket.remoteAddress ?? "", origin: typeof origin === "string" ? origin : "", headers, cookies };
}
