import type { IncomingMessage, ServerResponse } from "node:http";
import { errPermissionDenied, type HubError } from "../errors.js";

/**
 * Which web pages may open browser connections (WebSocket, SSE, long-poll). A browser sends
 * `Origin` on all of them and lets any page open a WebSocket or an EventSource to any host,
 * with the user's cookies: without this check, every site the user visits could connect as
 * them. A request without `Origin` is not from a browser page (a backend, a mobile app, a
 * test client) and is never refused here: Origin protects browser users, not the hub.
 *
 * The hub's own origin (the Origin's host:port equals the request's Host) is always allowed,
 * so the demo page it serves works; `allowedOrigins` (comma-separated) adds others: exact
 * origins, `*` inside one (`https://*.example.com`, `http://localhost:*`), or `*` for any.
 */
export class OriginPolicy {
  private readonly any: boolean;
  private readonly patterns: RegExp[];
  private refusals = 0;

  constructor(allowedOrigins: string) {
    const entries = allowedOrigins.split(",").map((o) => o.trim()).filter(Boolean);
    this.any = entries.includes("*");
    this.patterns = entries.map(
      // A `*` stands for host or port characters only, never `/` or `@`: `https://*.example.com`
      // must not match `https://evil.com/.example.com` or `https://x@evil.com`.
      (o) => new RegExp(`^${o.split("*").map(escapeRegExp).join("[a-z0-9.\\-]+")}$`, "i"),
    );
  }

  /** Null when `req` may connect, else the error to refuse it with (403); counted. */
  refusal(req: IncomingMessage): HubError | null {
    const origin = req.headers.origin;
    if (origin === undefined) {
      // Browsers leave Origin off top-level navigations and no-cors loads (an iframe, an img)
      // but say where they come from in Sec-Fetch-Site: another site opening an SSE or poll
      // URL with the user's cookies is refused like a foreign Origin.
      if (this.any || req.headers["sec-fetch-site"] !== "cross-site") return null;
      this.refusals++;
      return errPermissionDenied("a cross-site request without Origin may not connect (Sec-Fetch-Site: cross-site)");
    }
    if (this.allows(origin, req.headers.host)) return null;
    this.refusals++;
    return errPermissionDenied(`origin ${JSON.stringify(origin)} is not allowed to connect (allowedOrigins)`);
  }

  /**
   * CORS headers of a browser-facing HTTP endpoint (SSE, long-poll): an allowed Origin is
   * echoed with credentials allowed, so pages of other allowed origins can read the responses
   * with cookies sent. `*` is never sent as such: browsers refuse it with credentials.
   */
  setCorsHeaders(req: IncomingMessage, res: ServerResponse, exposeHeaders: readonly string[] = []): void {
    // Every answer depends on Origin, allowed or not: caches must not serve one origin's to another.
    res.setHeader("Vary", "Origin");
    const origin = req.headers.origin;
    if (origin === undefined || !this.allows(origin, req.headers.host)) return;
    res.setHeader("Access-Control-Allow-Origin", origin);
    res.setHeader("Access-Control-Allow-Credentials", "true");
    if (exposeHeaders.length) res.setHeader("Access-Control-Expose-Headers", exposeHeaders.join(", "));
  }

  /** Connections refused since start (realtime_connections_refused_total{reason="origin"}). */
  refused(): number {
    return this.refusals;
  }

  private allows(origin: string, host: string | undefined): boolean {
    if (this.any || (host !== undefined && hostOf(origin) === host.toLowerCase())) return true;
    return this.patterns.some((p) => p.test(origin));
  }
}

/**
 * host[:port] of an Origin, as a Host header names it, or null for what is not an origin
 * (`null` from sandboxed frames and file: pages). The scheme is left out on purpose: behind a
 * proxy that ends TLS the page is https while the hub itself is reached over http.
 */
function hostOf(origin: string): string | null {
  try {
    const { protocol, host } = new URL(origin);
    return protocol === "http:" || protocol === "https:" ? host : null;
  } catch {
    return null;
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Answers a CORS preflight from an allowed origin (setCorsHeaders has added it) for `methods`.
 * Whatever headers the page asked to send are allowed: the endpoints act on none of them but
 * Last-Event-ID, so allowing them grants nothing, and a client library may add its own.
 */
export function answerPreflight(req: IncomingMessage, res: ServerResponse, methods: string): void {
  const asked = req.headers["access-control-request-headers"];
  res.writeHead(204, {
    "Access-Control-Allow-Methods": methods,
    ...(asked ? { "Access-Control-Allow-Headers": asked } : {}),
    "Access-Control-Max-Age": "600",
  });
  res.end();
}
