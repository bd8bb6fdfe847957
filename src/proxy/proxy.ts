import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import type { Config, NamespaceOptions } from "../config.js";
import { Disconnect, errPermissionDenied, errUnauthorized, HubError } from "../errors.js";
import type { DisconnectPush } from "../gen/realtime/v1/client.js";
import { DisconnectCode, ErrorCode } from "../gen/realtime/v1/types.js";
import { embedJsonIn, embedJsonOut } from "../protocol/codec.js";
import { VERSION } from "../version.js";
import { CallFailure } from "./call-failure.js";
import { CALLS, type Answer, type AskKind, type CallKind, type NotifyKind, type RequestOf, type ResponseOf, type ResultOf } from "./calls.js";
import { parseEndpoint, type Endpoint } from "./endpoint.js";
import { GrpcCaller } from "./grpc-caller.js";
import { HttpCaller } from "./http-caller.js";
import { Notifier } from "./notifier.js";
import { ProxyMetrics } from "./proxy-metrics.js";
import { signature, SIGNATURE_HEADER, TIMESTAMP_HEADER } from "./signature.js";

/**
 * The backend asked to close the connection: the session closes it with `disconnect`. A
 * HubError too, so a path that only reports errors (an SSE connect) refuses with it.
 */
export class ProxyDisconnect extends HubError {
  constructor(readonly disconnect: Disconnect) {
    super(ErrorCode.ERROR_CODE_PERMISSION_DENIED, `disconnected by the application: ${disconnect.reason}`);
    this.name = "ProxyDisconnect";
  }
}

/** Calls a namespace can send elsewhere (or turn off) with its own option. */
const NAMESPACE_KEY = {
  subscribe: "subscribeProxy",
  subRefresh: "subRefreshProxy",
  publish: "publishProxy",
  rpc: "rpcProxy",
  unsubscribe: "unsubscribeProxy",
} as const satisfies Partial<Record<CallKind, keyof NamespaceOptions>>;
type NamespacedKind = keyof typeof NAMESPACE_KEY;

const GLOBAL_KEY = {
  connect: "proxyConnectUrl",
  refresh: "proxyRefreshUrl",
  subscribe: "proxySubscribeUrl",
  subRefresh: "proxySubRefreshUrl",
  publish: "proxyPublishUrl",
  rpc: "proxyRpcUrl",
  disconnect: "proxyDisconnectUrl",
  unsubscribe: "proxyUnsubscribeUrl",
} as const satisfies Record<CallKind, keyof Config>;

const TIMEOUT_KEY = {
  connect: "proxyConnectTimeoutMs",
  refresh: "proxyRefreshTimeoutMs",
  subscribe: "proxySubscribeTimeoutMs",
  subRefresh: "proxySubRefreshTimeoutMs",
  publish: "proxyPublishTimeoutMs",
  rpc: "proxyRpcTimeoutMs",
  disconnect: "proxyNotifyTimeoutMs",
  unsubscribe: "proxyNotifyTimeoutMs",
} as const satisfies Record<CallKind, keyof Config>;

/** bytes fields of proxy messages that carry JSON, embedded as JSON values in JSON bodies (b64data etc. otherwise). */
const EMBEDDED = new Set(["data", "info"]);
const ANSWER_KEYS = new Set(["result", "error", "disconnect"]);

/**
 * The hub's side of the webhook contract (proxy.proto): which endpoint each call goes to,
 * per namespace; signing; the HTTP and gRPC transports; turning an answer into a result, an
 * error for the one operation, or a disconnect; notifications in the background; metrics.
 */
export class Proxy {
  private readonly global: Record<CallKind, Endpoint | null>;
  /** Per namespace name ("" for channelDefaults), its own endpoints. */
  private readonly namespaced = new Map<string, Partial<Record<NamespacedKind, Endpoint | null>>>();
  private readonly http: HttpCaller;
  private readonly grpc = new GrpcCaller();
  private readonly notifier: Notifier;
  readonly metrics: ProxyMetrics;
  private readonly forwardHeaders: string[];
  private readonly forwardCookies: string[];

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    const g = {} as Record<CallKind, Endpoint | null>;
    for (const kind of Object.keys(GLOBAL_KEY) as CallKind[]) g[kind] = parseEndpoint(GLOBAL_KEY[kind], config[GLOBAL_KEY[kind]]);
    this.global = g;
    for (const ns of [config.channelDefaults, ...config.namespaces]) {
      const own: Partial<Record<NamespacedKind, Endpoint | null>> = {};
      for (const kind of Object.keys(NAMESPACE_KEY) as NamespacedKind[]) {
        const raw = ns[NAMESPACE_KEY[kind]];
        if (raw !== "") own[kind] = parseEndpoint(`namespace ${JSON.stringify(ns.name)}: ${NAMESPACE_KEY[kind]}`, raw);
      }
      this.namespaced.set(ns.name, own);
    }
    this.http = new HttpCaller(config.proxyMaxResponseBytes);
    this.metrics = new ProxyMetrics(() => this.notifier.pending);
    this.notifier = new Notifier(config.proxyNotifyRetrySeconds * 1000, log, (kind, reason) => this.metrics.drop(kind, reason));
    this.forwardHeaders = list(config.proxyHeaders).map((h) => h.toLowerCase());
    this.forwardCookies = list(config.proxyCookies);
    if (this.configured && !config.proxySecret)
      log.warn("webhooks are configured without proxySecret: requests are not signed, so the app cannot tell them from forged ones");
  }

  /** Whether any call goes to a backend (some namespace or globally). */
  get configured(): boolean {
    return Object.values(this.global).some((e) => e !== null) || this.config.namespaces.concat(this.config.channelDefaults).some((ns) => Object.values(NAMESPACE_KEY).some((k) => ns[k] !== "" && ns[k] !== "off"));
  }

  /** The request headers and cookie names the edge captures for webhooks. */
  get forwarded(): { headers: readonly string[]; cookies: readonly string[] } {
    return { headers: this.forwardHeaders, cookies: this.forwardCookies };
  }

  /** Where `kind` goes for channels (or rpc methods) of namespace `ns`; null: not proxied. */
  endpoint(kind: CallKind, ns?: NamespaceOptions): Endpoint | null {
    if (ns && kind in NAMESPACE_KEY) {
      const own = this.namespaced.get(ns.name)?.[kind as NamespacedKind];
      if (own !== undefined) return own;
    }
    return this.global[kind];
  }

  /**
   * One call the hub waits for. Resolves with the backend's result; rejects with a HubError
   * (the backend's error, or a temporary 108 when it gave no usable answer) or ProxyDisconnect.
   */
  async ask<K extends AskKind>(kind: K, ep: Endpoint, request: RequestOf<K>): Promise<ResultOf<K>> {
    const started = performance.now();
    let outcome: "result" | "error" | "disconnect" | "failed" = "failed";
    let code: number | undefined;
    try {
      const answer = (await this.send(kind, ep, request)) as Answer<ResultOf<K>>;
      const given = [answer.result, answer.error, answer.disconnect].filter((x) => x !== undefined).length;
      if (given !== 1) throw new CallFailure("invalid", `the answer must hold exactly one of result, error or disconnect (it holds ${given})`);
      if (answer.disconnect) {
        outcome = "disconnect";
        throw new ProxyDisconnect(disconnectFrom(answer.disconnect));
      }
      if (answer.error) {
        outcome = "error";
        const e = HubError.fromWire(answer.error);
        code = e.code;
        throw e;
      }
      outcome = "result";
      return answer.result!;
    } catch (err) {
      if (!(err instanceof CallFailure)) throw err;
      const e = failureError(kind, err);
      code = e.code;
      this.log.warn({ call: kind, endpoint: ep.text, reason: err.reason, err: err.message }, "webhook call failed");
      throw e;
    } finally {
      this.metrics.observe(kind, outcome, (performance.now() - started) / 1000, code);
    }
  }

  /** A notification: sent in the background, at least once, with a fresh event id. */
  notify<K extends NotifyKind>(kind: K, ep: Endpoint, request: Omit<RequestOf<K>, "eventId">): void {
    const full = { ...request, eventId: randomUUID() } as RequestOf<K>;
    this.notifier.push(kind, async () => {
      const started = performance.now();
      let ok = false;
      try {
        await this.send(kind, ep, full);
        ok = true;
      } finally {
        this.metrics.observe(kind, ok ? "result" : "failed", (performance.now() - started) / 1000);
      }
    });
  }

  private async send<K extends CallKind>(kind: K, ep: Endpoint, request: RequestOf<K>): Promise<ResponseOf<K>> {
    const spec = CALLS[kind];
    const timeoutMs = this.config[TIMEOUT_KEY[kind]];
    if (ep.transport === "grpc") return this.grpc.call(ep.address, ep.tls, spec, request, timeoutMs);
    const binary = this.config.proxyContentType === "protobuf";
    let body: Buffer;
    if (binary) body = Buffer.from(spec.request.encode(request).finish());
    else {
      const obj = spec.request.toJSON(request) as Record<string, unknown>;
      embedJsonOut(obj, EMBEDDED);
      body = Buffer.from(JSON.stringify(obj), "utf8");
    }
    const ts = Math.floor(Date.now() / 1000);
    const type = binary ? "application/x-protobuf" : "application/json";
    const own: Record<string, string> = {
      "content-type": type,
      accept: type,
      "user-agent": `realtime-hub/${VERSION}`,
      "x-realtime-call": kind,
      [TIMESTAMP_HEADER]: String(ts),
    };
    if (this.config.proxySecret) own[SIGNATURE_HEADER] = signature(this.config.proxySecret, ts, body);
    const answer = await this.http.post(ep.url, body, own, forwardedHeaders(request), timeoutMs);
    if (answer.status === 401) throw new CallFailure("unauthenticated", "the backend answered HTTP 401");
    if (answer.status === 403) throw new CallFailure("forbidden", "the backend answered HTTP 403");
    if (answer.status < 200 || answer.status > 299) throw new CallFailure("status", `the backend answered HTTP ${answer.status}`);
    if (kind === "disconnect" || kind === "unsubscribe") return spec.response.fromJSON({});
    return decodeAnswer(spec.response, answer.body, answer.contentType);
  }

  /** Sends what notifications are left, for at most `graceMs`, and closes connections. */
  async close(graceMs: number): Promise<void> {
    await this.notifier.close(graceMs);
    this.http.close();
    this.grpc.close();
  }
}

function list(text: string): string[] {
  return text.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

/** The client's forwarded headers and cookies, as headers of the webhook POST itself. */
function forwardedHeaders(request: { context?: { headers: Record<string, string>; cookies: Record<string, string> } | undefined }): Record<string, string> {
  const ctx = request.context;
  if (!ctx) return {};
  const out = { ...ctx.headers };
  const cookies = Object.entries(ctx.cookies);
  if (out.cookie === undefined && cookies.length > 0) out.cookie = cookies.map(([k, v]) => `${k}=${v}`).join("; ");
  return out;
}

function decodeAnswer<T>(codec: { decode(b: Uint8Array): T; fromJSON(o: unknown): T }, body: Buffer, contentType: string): T {
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  if (type === "application/x-protobuf" || type === "application/protobuf") {
    try {
      return codec.decode(body);
    } catch (err) {
      throw new CallFailure("invalid", "the answer is not a valid protobuf message", true, { cause: err });
    }
  }
  let obj: unknown;
  try {
    obj = JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new CallFailure("invalid", `the answer is not JSON (content-type ${JSON.stringify(contentType)})`, true, { cause: err });
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) throw new CallFailure("invalid", "the answer is not a JSON object");
  const unknown = Object.keys(obj).filter((k) => !ANSWER_KEYS.has(k));
  if (unknown.length) throw new CallFailure("invalid", `the answer has unknown fields: ${unknown.join(", ")}`);
  for (const [k, v] of Object.entries(obj)) if (v !== null && (typeof v !== "object" || Array.isArray(v))) throw new CallFailure("invalid", `the answer's ${k} is not an object`);
  try {
    embedJsonIn(obj as Record<string, unknown>, EMBEDDED);
    return codec.fromJSON(obj);
  } catch (err) {
    throw new CallFailure("invalid", `the answer does not decode: ${(err as Error).message}`, true, { cause: err });
  }
}

/**
 * The backend's disconnect. Codes outside 3000-4999 (the protocol's and the app's own
 * range) become 3013/3504 by `reconnect`.
 */
function disconnectFrom(d: DisconnectPush): Disconnect {
  const own = d.code >= 3000 && d.code <= 4999;
  const code = own ? (d.code as DisconnectCode) : d.reconnect ? DisconnectCode.DISCONNECT_CODE_FORCE_RECONNECT : DisconnectCode.DISCONNECT_CODE_FORCE_NO_RECONNECT;
  return new Disconnect(code, d.reason || "disconnected by the application");
}

/** No usable answer: the backend's 401/403 refuse; anything else fails this one operation, temporarily. */
function failureError(kind: CallKind, f: CallFailure): HubError {
  const what = `${kind} webhook`;
  switch (f.reason) {
    case "unauthenticated":
      return errUnauthorized(`${what}: the application refused the credentials`);
    case "forbidden":
      return errPermissionDenied(`${what}: the application refused`);
    default:
      return new HubError(ErrorCode.ERROR_CODE_NOT_AVAILABLE, `${what}: ${f.message}`, true);
  }
}
