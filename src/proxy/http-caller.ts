import http from "node:http";
import https from "node:https";
import { CallFailure } from "./call-failure.js";

export interface HttpAnswer {
  status: number;
  contentType: string;
  body: Buffer;
}

/** Headers the hub sets itself; a forwarded client header of the same name is not copied. */
const OWN_HEADERS = new Set(["host", "content-length", "content-type", "connection", "transfer-encoding", "keep-alive", "upgrade", "expect", "te", "accept"]);

/** Errors that mean the request was never written to a live connection. */
const NOT_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

/**
 * POSTs webhook bodies over keep-alive connections, with a deadline for the whole exchange
 * and a bound on the answer's size. Never throws anything but CallFailure.
 */
export class HttpCaller {
  private readonly agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: 256 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 256 }),
  };

  constructor(private readonly maxResponseBytes: number) {}

  async post(url: URL, body: Uint8Array, headers: Record<string, string>, forwarded: Record<string, string>, timeoutMs: number): Promise<HttpAnswer> {
    const deadline = Date.now() + timeoutMs;
    try {
      return await this.once(url, body, headers, forwarded, timeoutMs);
    } catch (err) {
      // A kept-alive connection the backend closed while idle fails at once: the request
      // never reached the app, so one more try on a fresh connection is safe for any call,
      // within the same deadline.
      const left = deadline - Date.now();
      if (err instanceof CallFailure && !err.maybeDelivered && left > 0) return this.once(url, body, headers, forwarded, left);
      throw err;
    }
  }

  private once(url: URL, body: Uint8Array, own: Record<string, string>, forwarded: Record<string, string>, timeoutMs: number): Promise<HttpAnswer> {
    const headers: Record<string, string | number> = {};
    for (const [k, v] of Object.entries(forwarded)) if (!OWN_HEADERS.has(k) && !k.startsWith("x-realtime-")) headers[k] = v;
    Object.assign(headers, own, { "content-length": body.length });
    const agent = url.protocol === "https:" ? this.agents.https : this.agents.http;
    const request = url.protocol === "https:" ? https.request : http.request;
    return new Promise<HttpAnswer>((resolve, reject) => {
      let settled = false;
      const fail = (e: CallFailure) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(e);
      };
      const timer = setTimeout(() => fail(new CallFailure("timeout", `no answer within ${timeoutMs} ms`)), timeoutMs);
      const req = request(url, { method: "POST", agent, headers }, (res) => {
        const declared = Number(res.headers["content-length"] ?? 0);
        if (declared > this.maxResponseBytes) return fail(tooLarge(this.maxResponseBytes));
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.maxResponseBytes) return fail(tooLarge(this.maxResponseBytes));
          chunks.push(chunk);
        });
        res.on("error", (err) => fail(new CallFailure("unreachable", `the answer broke off: ${err.message}`, true, { cause: err })));
        res.on("end", () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), body: Buffer.concat(chunks) });
        });
      });
      req.on("error", (err: NodeJS.ErrnoException) => {
        const code = err.code ?? "";
        // A reused idle socket reset before any answer: the backend closed it, not our request.
        const notSent = NOT_SENT.has(code) || (req.reusedSocket && code === "ECONNRESET");
        fail(new CallFailure("unreachable", `cannot reach the backend: ${code || err.message}`, !notSent, { cause: err }));
      });
      req.end(body);
    });
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}

const tooLarge = (max: number) => new CallFailure("too_large", `the answer is larger than ${max} bytes (proxyMaxResponseBytes)`);
