import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySignature } from "../../src/proxy/signature.js";

/** One webhook request the backend received. */
export interface WebhookCall {
  /** The path's last segment: the test gives each call kind its own URL. */
  kind: string;
  body: any;
  /** The body's bytes as sent (protobuf bodies, signature checks). */
  raw: Buffer;
  headers: IncomingHttpHeaders;
  /** Whether the signature checks out with the backend's secret, within the replay window. */
  signed: boolean;
}

/** What a handler may answer: a JSON answer, or a raw one, or `hang` (never answers). */
type WebhookAnswer = Record<string, unknown> | { raw: string | Buffer; status?: number; contentType?: string } | "hang";
type Handler = (body: any, call: WebhookCall) => WebhookAnswer | Promise<WebhookAnswer>;

/**
 * A real HTTP app backend for webhook tests, on a free loopback port: records every request,
 * checks its signature, answers with the handler of its kind (`/connect`, `/subscribe`...).
 */
export class WebhookBackend {
  readonly calls: WebhookCall[] = [];
  readonly handlers: Record<string, Handler> = {};
  private readonly hanging = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    private readonly secret: string,
  ) {}

  static async start(secret = "webhook-secret"): Promise<WebhookBackend> {
    const server = createServer();
    const backend = new WebhookBackend(server, secret);
    server.on("request", (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => void backend.answer(req.url ?? "/", req.headers, Buffer.concat(chunks), res));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return backend;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(kind: string): string {
    return `http://127.0.0.1:${this.port}/${kind}`;
  }

  of(kind: string): WebhookCall[] {
    return this.calls.filter((c) => c.kind === kind);
  }

  private async answer(url: string, headers: IncomingHttpHeaders, raw: Buffer, res: ServerResponse): Promise<void> {
    const kind = url.split("/").pop() ?? "";
    const signed = verifySignature(this.secret, { timestamp: headers[TIMESTAMP_HEADER] as string, signature: headers[SIGNATURE_HEADER] as string }, raw);
    let body: any;
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch {
      body = raw;
    }
    const call: WebhookCall = { kind, body, raw, headers, signed };
    this.calls.push(call);
    const handler = this.handlers[kind];
    const out = handler ? await handler(body, call) : { result: {} };
    if (out === "hang") {
      this.hanging.add(res);
      return;
    }
    if ("raw" in out && (typeof out.raw === "string" || Buffer.isBuffer(out.raw))) {
      res.writeHead((out.status as number | undefined) ?? 200, { "content-type": (out.contentType as string | undefined) ?? "application/json" });
      res.end(out.raw);
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(out));
  }

  async close(): Promise<void> {
    for (const r of this.hanging) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
