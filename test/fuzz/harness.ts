/**
 * The hub under fuzz and what watches it: a hub started without dev mode (API key, token
 * secret, no anonymous connections), its pino log captured, tokens minted, a bystander
 * WebSocket client that must receive every publication a backend makes during the fuzz, a
 * gRPC Subscribe stream that stops reading, and the checks made after the fuzz (node up,
 * bystander served, no error logged, memory bounded).
 */
import { randomBytes } from "node:crypto";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import http from "node:http";
import http2 from "node:http2";
import WebSocket from "ws";
import { pino, type Logger } from "pino";
import { SignJWT } from "jose";
import { status as grpcStatus } from "@grpc/grpc-js";
import { defaultNamespace, type Config } from "../../src/config.js";
import { signToken } from "../../src/auth/jwt.js";
import { SubscribeRequest } from "../../src/gen/realtime/v1/hub.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { ERROR_CODES } from "./codes.js";
import { clip, type ConnectTokenName, type Fuzzed, type Resolver, tokensIn, type SubTokenName } from "./values.js";

export const API_KEY = "fuzz-key";
const TOKEN_SECRET = "fuzz-secret";
/** The user of the fuzzing connections (and of the tokens that name a user). */
const FUZZ_USER = "fuzz";
const OTHER_USER = "fuzz-other";

/** The hub config the fuzz runs against; see defaultNamespace in src/config.ts. */
function fuzzHubConfig(): Partial<Config> {
  return {
    dev: false,
    apiKey: API_KEY,
    tokenHmacSecret: TOKEN_SECRET,
    allowAnonymous: false,
    allowUnknownNamespaces: false,
    // A Subscribe stream that stops reading is ended past this (the least the config allows).
    subscribeBacklogMaxBytes: 4_259_840,
    namespaces: [
      { ...defaultNamespace("priv"), private: true, presence: true, allowPublish: true, historySize: 10, historyTtlSeconds: 60 },
      { ...defaultNamespace("hist"), historySize: 50, historyTtlSeconds: 60, allowPublish: true, presence: true, joinLeave: true },
    ],
  };
}

/** Counters by name, printed at the end of a run. */
class Stats {
  readonly counts = new Map<string, number>();
  add(name: string, n = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + n);
  }
  get(name: string): number {
    return this.counts.get(name) ?? 0;
  }
  toString(): string {
    return [...this.counts].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(" ");
  }
}

export interface LogLine {
  level: number;
  msg: string;
  text: string;
}

/** The hub's pino log, kept in memory: every line at warn or above. */
export class LogCapture {
  readonly lines: LogLine[] = [];
  private errorCount = 0;
  readonly logger: Logger;
  warnings = 0;

  constructor() {
    this.logger = pino(
      { level: "warn", base: { node: "fuzz" } },
      {
        write: (text: string) => {
          let level = 0;
          let msg = "";
          try {
            const o = JSON.parse(text);
            level = o.level;
            msg = o.msg;
          } catch {
            level = 60;
            msg = "unparseable log line";
          }
          if (level >= 50) {
            this.errorCount++;
            if (this.lines.length < 200) this.lines.push({ level, msg, text: text.trim() });
          } else this.warnings++;
        },
      },
    );
  }

  /** How many error lines so far (a mark for errorsSince). */
  get mark(): number {
    return this.errorCount;
  }

  errorsSince(mark: number): LogLine[] {
    if (this.errorCount === mark) return [];
    return this.lines.slice(Math.min(mark, this.lines.length));
  }

  static describe(lines: LogLine[]): string {
    return lines.map((l) => `  [level ${l.level}] ${l.msg}: ${clip(l.text, 600)}`).join("\n");
  }
}

/** A forced GC where the process allows it (v8 flag set at run time; no --expose-gc needed). */
function forceGc(): boolean {
  try {
    const g = (globalThis as { gc?: () => void }).gc ?? (setFlagsFromString("--expose-gc"), runInNewContext("gc") as () => void);
    g();
    g();
    return true;
  } catch {
    return false;
  }
}

function memoryNow(): { heapUsed: number; external: number; rss: number } {
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, external: m.external, rss: m.rss };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An unsigned token (`alg: none`), which a verifier must refuse. */
function unsignedToken(claims: Record<string, unknown>): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${b64({ alg: "none", typ: "JWT" })}.${b64(claims)}.`;
}

async function mintConnectTokens(): Promise<Record<ConnectTokenName, string>> {
  const noSub = await new SignJWT({}).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setIssuedAt().sign(new TextEncoder().encode(TOKEN_SECRET));
  const emptySub = await new SignJWT({}).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setSubject("").setIssuedAt().sign(new TextEncoder().encode(TOKEN_SECRET));
  return {
    valid: await signToken(TOKEN_SECRET, { sub: FUZZ_USER }, 3600),
    "valid-noexp": await signToken(TOKEN_SECRET, { sub: FUZZ_USER }, 0),
    "valid-info": await signToken(TOKEN_SECRET, { sub: FUZZ_USER, info: { name: "é💥\u2028", n: 1e300, list: [1, "two", { three: null }], s: "\ud83d\udca5" } }, 3600),
    "other-user": await signToken(TOKEN_SECRET, { sub: OTHER_USER }, 3600),
    expired: await signToken(TOKEN_SECRET, { sub: FUZZ_USER }, -60),
    "wrong-secret": await signToken("not-the-secret", { sub: FUZZ_USER }, 3600),
    "alg-none": unsignedToken({ sub: FUZZ_USER }),
    "no-sub": noSub,
    "empty-sub": emptySub,
    garbage: "not.a.jwt",
    empty: "",
  };
}

/** What a connect with each connection token must lead to (allowAnonymous is off). */
export const CONNECT_OUTCOME: Record<ConnectTokenName, "ok" | "expired" | "refused"> = {
  valid: "ok",
  "valid-noexp": "ok",
  "valid-info": "ok",
  "other-user": "ok",
  expired: "expired",
  "wrong-secret": "refused",
  "alg-none": "refused",
  "no-sub": "refused",
  // README: "a token with an empty `sub` counts as none", and none is refused here.
  "empty-sub": "refused",
  garbage: "refused",
  empty: "refused",
};

/** One run's concrete names: its channels carry a salt, so runs share no state. */
export class FuzzRun implements Resolver {
  private readonly subTokens = new Map<string, string>();
  /** The concrete channels this run named. */
  readonly channels = new Set<string>();

  constructor(
    readonly fh: FuzzHub,
    readonly salt: string,
  ) {}

  channel(name: string): string {
    const i = name.indexOf(":");
    const c = i < 0 ? `${name}-${this.salt}` : `${name.slice(0, i)}:${this.salt}-${name.slice(i + 1)}`;
    this.channels.add(c);
    return c;
  }

  token(name: string): string {
    if (name in this.fh.connectTokens) return this.fh.connectTokens[name as ConnectTokenName];
    const t = this.subTokens.get(name);
    if (t === undefined) throw new Error(`token ${name} was not prepared`);
    return t;
  }

  /** Mints the subscription tokens `values` refer to. */
  async prepare(...values: Fuzzed[]): Promise<void> {
    const names = new Set<string>();
    for (const v of values) tokensIn(v, names);
    for (const name of names) if (!(name in this.fh.connectTokens) && !this.subTokens.has(name)) this.subTokens.set(name, await this.mintSub(name as SubTokenName));
  }

  private mintSub(name: SubTokenName): Promise<string> {
    const [kind, ...rest] = name.split(":");
    const channel = this.channel(rest.join(":"));
    switch (kind) {
      case "sub":
        return signToken(TOKEN_SECRET, { sub: FUZZ_USER, channel }, 3600);
      case "sub-expired":
        return signToken(TOKEN_SECRET, { sub: FUZZ_USER, channel }, -60);
      case "sub-other-user":
        return signToken(TOKEN_SECRET, { sub: OTHER_USER, channel }, 3600);
      case "sub-wrong-secret":
        return signToken("not-the-secret", { sub: FUZZ_USER, channel }, 3600);
      default:
        throw new Error(`unknown token ${name}`);
    }
  }
}

/** A WebSocket client subscribed to a channel of its own that must receive every publication. */
class Bystander {
  readonly pubs: { offset: number; epoch: string; seq: number }[] = [];
  closed: { code: number; reason: string } | null = null;
  readonly problems: string[] = [];
  private constructor(
    readonly ws: WebSocket,
    readonly channel: string,
  ) {}

  static async start(wsUrl: string, channel: string, token: string): Promise<Bystander> {
    const ws = new WebSocket(wsUrl);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const b = new Bystander(ws, channel);
    const replies = new Map<number, any>();
    ws.on("message", (data) => {
      for (const line of data.toString().split("\n")) {
        if (!line.trim()) continue;
        let m: any;
        try {
          m = JSON.parse(line);
        } catch {
          b.problems.push(`bystander got invalid JSON: ${clip(line)}`);
          continue;
        }
        if (m.id) replies.set(m.id, m);
        else if (m.push?.pub && m.push.channel === channel) {
          const p = m.push.pub;
          b.pubs.push({ offset: Number(p.offset), epoch: p.epoch, seq: p.data?.seq });
        } else if (m.push?.disconnect) b.problems.push(`bystander got a disconnect push: ${line}`);
        else if (m.push?.unsubscribe) b.problems.push(`bystander was unsubscribed: ${line}`);
        // The server's ping: answer it, or the hub closes us as silent.
        else if (Object.keys(m).length === 0) ws.send("{}");
      }
    });
    ws.on("close", (code, reason) => (b.closed = { code, reason: reason.toString() }));
    ws.on("error", () => undefined);
    const call = async (id: number, cmd: object) => {
      ws.send(JSON.stringify({ id, ...cmd }));
      for (let i = 0; i < 500 && !replies.has(id); i++) await sleep(10);
      const r = replies.get(id);
      if (!r || r.error) throw new Error(`bystander command ${JSON.stringify(cmd)} failed: ${JSON.stringify(r)}`);
      return r;
    };
    await call(1, { connect: { token } });
    await call(2, { subscribe: { channel } });
    return b;
  }
}

/** A backend publishing into the bystander's channel through the HTTP API while the fuzz runs. */
class Publisher {
  readonly acked: { seq: number; offset: number; epoch: string }[] = [];
  readonly failures: string[] = [];
  bytes = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  constructor(
    private readonly httpUrl: string,
    private readonly channel: string,
    private intervalMs: number,
    private readonly pad: string,
  ) {}

  /** Publishes without pausing until `bytes` reach `target` (or `ms` pass). */
  async atLeast(target: number, ms: number): Promise<void> {
    const interval = this.intervalMs;
    this.intervalMs = 0;
    const end = Date.now() + ms;
    while (this.bytes < target && Date.now() < end && this.failures.length <= 20) await sleep(20);
    this.intervalMs = interval;
  }

  start(): void {
    this.loop = (async () => {
      for (let seq = 0; !this.stopped; seq++) {
        const body = JSON.stringify({ channel: this.channel, data: { seq, pad: this.pad } });
        try {
          const r = await post(this.httpUrl + "/api/publish", body, { "Content-Type": "application/json", Authorization: `apikey ${API_KEY}` }, this.agent);
          const o = JSON.parse(r.body.toString());
          if (r.status !== 200) this.failures.push(`publish ${seq}: HTTP ${r.status} ${clip(r.body.toString())}`);
          else {
            this.acked.push({ seq, offset: Number(o.offset), epoch: o.epoch });
            this.bytes += body.length;
          }
        } catch (err) {
          this.failures.push(`publish ${seq}: ${(err as Error).message}`);
        }
        if (this.failures.length > 20) return;
        await sleep(this.intervalMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    this.agent.destroy();
  }
}

/** A POST with node:http (fetch refuses some of the header values the fuzz sends). */
export function post(url: string, body: string | Buffer, headers: Record<string, string>, agent?: http.Agent | false, method = "POST", timeoutMs = 15_000): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * A backend Subscribe stream on the bystander's channel that never reads (until the end).
 * Plain HTTP/2 rather than a grpc-js client: grpc-js reads ahead into its own buffers, where
 * the hub would see a consumer keeping up; an unread HTTP/2 stream stops at its flow-control
 * window, so what the consumer does not take stays with the hub.
 */
class StalledSubscriber {
  private readonly session: http2.ClientHttp2Session;
  private readonly stream: http2.ClientHttp2Stream;
  private grpcStatus: string | null = null;
  private grpcMessage = "";
  private ended = false;

  constructor(httpUrl: string, channel: string) {
    this.session = http2.connect(httpUrl);
    this.session.on("error", () => undefined);
    this.stream = this.session.request({
      ":method": "POST",
      ":path": "/realtime.v1.HubService/Subscribe",
      "content-type": "application/grpc",
      te: "trailers",
      authorization: `apikey ${API_KEY}`,
    });
    this.stream.on("error", () => undefined);
    const trailers = (h: http2.IncomingHttpHeaders) => {
      if (h["grpc-status"] !== undefined) {
        this.grpcStatus = String(h["grpc-status"]);
        this.grpcMessage = decodeURIComponent(String(h["grpc-message"] ?? ""));
      }
    };
    // A refusal comes as trailers-only headers; a stream that ends, as trailers.
    this.stream.on("response", trailers);
    this.stream.on("trailers", trailers);
    this.stream.on("end", () => (this.ended = true));
    this.stream.on("close", () => (this.ended = true));
    const msg = Buffer.from(SubscribeRequest.encode({ channels: [channel], clientPublicationsOnly: false, joinLeave: false }).finish());
    const head = Buffer.alloc(5);
    head.writeUInt32BE(msg.length, 1);
    this.stream.end(Buffer.concat([head, msg]));
    // No 'data' listener: the stream stays paused and its window fills.
  }

  /** Reads what is waiting, then the status (or gives up after `ms` without one). */
  async drain(ms: number): Promise<{ events: number; bytes: number; status: string | null }> {
    let buf = Buffer.alloc(0);
    let events = 0;
    let bytes = 0;
    this.stream.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 5 && buf.length >= 5 + buf.readUInt32BE(1)) {
        buf = buf.subarray(5 + buf.readUInt32BE(1));
        events++;
      }
    });
    const end = Date.now() + ms;
    let last = -1;
    // Until the stream ends, or nothing new came for a while (then it is still open).
    while (!this.ended && Date.now() < end) {
      await sleep(200);
      if (bytes === last) break;
      last = bytes;
    }
    const status = this.grpcStatus === null ? null : `${grpcStatus[Number(this.grpcStatus)] ?? this.grpcStatus} ${this.grpcMessage}`;
    this.close();
    return { events, bytes, status };
  }

  get resourceExhausted(): boolean {
    return this.grpcStatus === String(grpcStatus.RESOURCE_EXHAUSTED);
  }

  close(): void {
    this.stream.close();
    this.session.destroy();
  }
}

export interface FuzzHubOptions {
  /** The backend's publications into the bystander's channel: one every this many ms. */
  publishIntervalMs?: number;
  /** Filler bytes in each of them (they must outgrow the stalled stream's byte bound). */
  publishPadBytes?: number;
}

/** The hub under fuzz with its watchers. */
export class FuzzHub {
  readonly stats = new Stats();
  /** Number of the latest run; its salt is `r<number>`. */
  runs = 0;
  private lastRun: FuzzRun | null = null;
  baseline: { heapUsed: number; external: number; rss: number } | null = null;
  /** Run by stop(): clients the properties keep open across runs. */
  readonly onStop: Array<() => void> = [];
  gcAvailable = false;

  private constructor(
    readonly hub: TestHub,
    readonly logs: LogCapture,
    readonly connectTokens: Record<ConnectTokenName, string>,
    readonly bystander: Bystander,
    readonly publisher: Publisher,
    readonly stalled: StalledSubscriber,
  ) {}

  static async start(opts: FuzzHubOptions = {}): Promise<FuzzHub> {
    const logs = new LogCapture();
    const hub = await startTestHub(fuzzHubConfig(), { log: logs.logger });
    const tokens = await mintConnectTokens();
    const tag = randomBytes(4).toString("hex");
    // Not a name the fuzz can make: no run's salt, user or channel names it.
    const channel = `hist:bystander-${tag}`;
    const bystander = await Bystander.start(hub.wsUrl, channel, await signToken(TOKEN_SECRET, { sub: `bystander-${tag}` }, 0));
    const stalled = new StalledSubscriber(`http://${hub.grpcAddr}`, channel);
    const publisher = new Publisher(hub.httpUrl, channel, opts.publishIntervalMs ?? 20, "p".repeat(opts.publishPadBytes ?? 8192));
    const fh = new FuzzHub(hub, logs, tokens, bystander, publisher, stalled);
    publisher.start();
    return fh;
  }

  /**
   * Reads a channel's history through the HTTP API as JSON, as a backend would after
   * publishing: whatever the hub accepted, it must be able to give back. Returns what is
   * wrong, or null.
   */
  async historyProblem(channel: string): Promise<string | null> {
    if (!channel) return null;
    this.stats.add("history-reads");
    let r: Awaited<ReturnType<typeof post>>;
    try {
      r = await post(`${this.hub.httpUrl}/api/history`, JSON.stringify({ channel, limit: 100 }), { "Content-Type": "application/json", Authorization: `apikey ${API_KEY}` }, false);
    } catch (err) {
      return `reading the history of ${JSON.stringify(channel)} through the HTTP API failed: ${(err as Error).message}`;
    }
    const text = r.body.toString();
    let o: any;
    try {
      o = JSON.parse(text);
    } catch {
      return `the history of ${JSON.stringify(channel)} answered ${r.status} with a body that is not JSON: ${clip(text)}`;
    }
    if (r.status === 200) return null;
    if (!ERROR_CODES.has(o?.error?.code) || o.error.code === 100 || r.status >= 500)
      return `after the publish, reading the history of ${JSON.stringify(channel)} through the HTTP API answered ${r.status}: ${clip(text)}`;
    return null;
  }

  /**
   * Makes the next run's salt `r<n>`: a replay (--path) then names the same channels as the
   * run that failed, so damaged bytes land where they landed then.
   */
  setNextRun(n: number): void {
    this.runs = n - 1;
  }

  /**
   * A fresh set of names for one run. Runs are sequential: the previous run's channels lose
   * their history now (it would otherwise stay for its TTL, and count as growth).
   */
  newRun(): FuzzRun {
    void this.forgetLastRun();
    return (this.lastRun = new FuzzRun(this, `r${++this.runs}`));
  }

  private async forgetLastRun(): Promise<void> {
    const run = this.lastRun;
    this.lastRun = null;
    for (const c of run?.channels ?? []) await this.hub.node.historyStore.remove(c).catch(() => undefined);
  }

  /** Memory after a forced GC, taken once warm (call after a first short fuzz pass). */
  takeBaseline(): void {
    this.gcAvailable = forceGc();
    this.baseline = memoryNow();
  }

  /**
   * The end-of-fuzz checks; returns what is wrong (empty when all is well). `memoryBoundBytes`:
   * growth of heapUsed + external over the baseline allowed after a forced GC (RSS, with four
   * times the bound, when GC cannot be forced).
   */
  async finalChecks(memoryBoundBytes = 64 * 1024 * 1024): Promise<{ problems: string[]; summary: string[] }> {
    const problems: string[] = [];
    const summary: string[] = [];
    // The stalled stream's bound must have been passed for its check to mean anything.
    const bound = this.hub.config.subscribeBacklogMaxBytes;
    const slack = 2 * 1024 * 1024;
    await this.publisher.atLeast(bound + slack + 1024 * 1024, 30_000);
    await this.publisher.stop();
    const p = this.publisher;
    if (p.failures.length) problems.push(`the backend's publications failed:\n  ${p.failures.slice(0, 10).join("\n  ")}`);

    // The node stays up.
    try {
      const r = await fetch(this.hub.httpUrl + "/health");
      if (r.status !== 200) problems.push(`/health answered ${r.status}: ${await r.text()}`);
    } catch (err) {
      problems.push(`/health failed: ${(err as Error).message}`);
    }

    // The bystander receives every publication, in order, once.
    const b = this.bystander;
    const want = p.acked.length;
    for (let i = 0; i < 500 && b.pubs.length < want && !b.closed; i++) await sleep(20);
    summary.push(`bystander: ${b.pubs.length} of ${want} publications received (${(p.bytes / 1048576).toFixed(1)} MiB published)`);
    if (b.closed) problems.push(`the bystander was closed during the fuzz: ${b.closed.code} ${b.closed.reason}`);
    problems.push(...b.problems.slice(0, 10));
    const got = b.pubs.map((x) => x.seq);
    const expected = p.acked.map((x) => x.seq);
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      const firstDiff = expected.findIndex((s, i) => got[i] !== s);
      problems.push(
        `the bystander did not receive every publication once and in order: ${got.length} received of ${expected.length}; first difference at #${firstDiff}: expected seq ${expected[firstDiff]}, got ${got[firstDiff]}`,
      );
    }
    const offsets = b.pubs.map((x) => x.offset);
    for (let i = 1; i < offsets.length; i++)
      if (offsets[i] !== offsets[i - 1]! + 1 || b.pubs[i]!.epoch !== b.pubs[0]!.epoch) {
        problems.push(`the bystander's offsets are not contiguous: ${offsets[i - 1]} then ${offsets[i]} (epochs ${b.pubs[i - 1]!.epoch}, ${b.pubs[i]!.epoch})`);
        break;
      }
    for (const a of p.acked) {
      const r = b.pubs.find((x) => x.seq === a.seq);
      if (r && (r.offset !== a.offset || r.epoch !== a.epoch)) {
        problems.push(`publication ${a.seq}: the API acked offset ${a.offset}/${a.epoch}, the bystander got ${r.offset}/${r.epoch}`);
        break;
      }
    }

    // The stalled Subscribe stream: past its byte bound it must have been ended.
    const d = await this.stalled.drain(10_000);
    const st = d.status ?? "still open";
    summary.push(`stalled gRPC Subscribe stream: ${d.events} events (${(d.bytes / 1048576).toFixed(1)} MiB) were waiting for it; status: ${st}`);
    // Slack: what HTTP/2 and grpc-js may hold beyond the hub's count (windows, stream buffers).
    if (d.bytes > bound + slack)
      problems.push(
        `a gRPC Subscribe stream that stopped reading was kept ${(d.bytes / 1048576).toFixed(1)} MiB (${d.events} events) by the hub: subscribeBacklogMaxBytes is ${(bound / 1048576).toFixed(1)} MiB, so it should have ended with RESOURCE_EXHAUSTED (status: ${st})`,
      );
    else if (p.bytes > bound + slack && !this.stalled.resourceExhausted)
      problems.push(`the stalled gRPC Subscribe stream fell ${(p.bytes / 1048576).toFixed(1)} MiB behind and ended with ${st}, not RESOURCE_EXHAUSTED`);

    // Nothing outlives its case: what is left is the bystander (one connection, one subscription).
    const info = async () => {
      const r = await post(`${this.hub.httpUrl}/api/info`, "{}", { "Content-Type": "application/json", Authorization: `apikey ${API_KEY}` }, false);
      return JSON.parse(r.body.toString()).nodes?.[0] ?? {};
    };
    let left = await info();
    for (let i = 0; i < 50 && ((left.numClients ?? 0) > 1 || (left.numSubscriptions ?? 0) > 1); i++) {
      await sleep(100);
      left = await info();
    }
    summary.push(`left on the node: ${left.numClients ?? 0} connection(s), ${left.numSubscriptions ?? 0} subscription(s) in ${left.numChannels ?? 0} channel(s)`);
    if ((left.numClients ?? 0) > 1 || (left.numSubscriptions ?? 0) > 1)
      problems.push(`connections or subscriptions outlived their cases: ${left.numClients} connection(s) and ${left.numSubscriptions} subscription(s) left, expected only the bystander's`);

    // Nothing logged at error level.
    const errors = this.logs.errorsSince(0);
    if (errors.length) problems.push(`the hub logged ${errors.length} line(s) at level >= 50:\n${LogCapture.describe(errors.slice(0, 20))}`);
    summary.push(`hub log: ${errors.length} error line(s), ${this.logs.warnings} warning(s)`);

    // Memory: what the fuzz made the hub keep by design (history of its channels) goes first.
    await this.forgetLastRun();
    if (this.baseline) {
      const gc = forceGc();
      const now = memoryNow();
      const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
      if (gc) {
        const grew = now.heapUsed + now.external - (this.baseline.heapUsed + this.baseline.external);
        summary.push(`memory after forced GC: heapUsed ${mib(this.baseline.heapUsed)} -> ${mib(now.heapUsed)}, external ${mib(this.baseline.external)} -> ${mib(now.external)} (growth ${mib(grew)}, bound ${mib(memoryBoundBytes)})`);
        if (grew > memoryBoundBytes) problems.push(`memory grew by ${mib(grew)} (heapUsed + external after a forced GC), more than ${mib(memoryBoundBytes)}`);
      } else {
        const grew = now.rss - this.baseline.rss;
        summary.push(`RSS ${mib(this.baseline.rss)} -> ${mib(now.rss)} (no forced GC available; bound ${mib(4 * memoryBoundBytes)})`);
        if (grew > 4 * memoryBoundBytes) problems.push(`RSS grew by ${mib(grew)}, more than ${mib(4 * memoryBoundBytes)}`);
      }
    }
    return { problems, summary };
  }

  async stop(): Promise<void> {
    for (const f of this.onStop.splice(0)) f();
    await this.publisher.stop().catch(() => undefined);
    this.bystander.ws.terminate();
    this.stalled.close();
    await this.hub.stop();
  }
}

