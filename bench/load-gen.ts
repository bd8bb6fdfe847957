/**
 * Load generator, in its own process (forked by bench/run.ts and driven over IPC): opens N
 * WebSocket subscribers to one channel with the JSON client protocol
 *   -> {"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"bench"}}   (one frame)
 * and, per measurement window, reports the publications received (frames may hold several
 * JSON lines) and the publish->receive latency read from the `t` timestamp in each payload
 * (`performance.timeOrigin + performance.now()` of the publisher: one wall clock with
 * sub-millisecond precision across processes on the same machine).
 *
 * Rates are computed with this process's own clock: when the generator lags behind its
 * sockets, the IPC command that closes a window waits in the same queue, so a late window
 * end is not counted as extra throughput.
 */
import WebSocket from "ws";

export type GenCommand =
  | { type: "connect"; url: string; count: number; channel: string; deadlineMs: number }
  | { type: "window-start" }
  | { type: "window-end" }
  | { type: "close" };

export type GenReport =
  | { type: "connected"; ready: number; failed: number; firstError: string; ms: number }
  | { type: "ok" }
  | {
      type: "window";
      received: number;
      seconds: number;
      p50: number;
      p99: number;
      max: number;
      samples: number;
      /** Subscribers closed by the server since connecting, and why (first one). */
      closed: number;
      closeReason: string;
    };

const now = () => performance.timeOrigin + performance.now();
const PUB = Buffer.from('"pub"');
const T = Buffer.from('"t":');
const PING_LINE = Buffer.from("\n{}");
/** Latency is read on ~this many subscribers, spread over the connection order. */
const LATENCY_SOCKETS = 250;

// Latency histogram: log-linear buckets, 1% wide, from 0.01 ms to ~10 minutes. Bounded
// memory and no sorting however many messages a window holds.
const BASE = 0.01;
const STEP = Math.log(1.01);
const BUCKETS = Math.ceil(Math.log(600_000 / BASE) / STEP) + 1;
let hist = new Uint32Array(BUCKETS);
let samples = 0;
let maxLatency = 0;

function record(ms: number): void {
  const b = ms <= BASE ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(ms / BASE) / STEP));
  hist[b]!++;
  samples++;
  if (ms > maxLatency) maxLatency = ms;
}

function percentile(p: number): number {
  if (samples === 0) return NaN;
  const rank = Math.ceil((p / 100) * samples);
  let seen = 0;
  for (let b = 0; b < BUCKETS; b++) {
    seen += hist[b]!;
    if (seen >= rank) return BASE * Math.exp((b + 0.5) * STEP);
  }
  return maxLatency;
}

const sockets: WebSocket[] = [];
let received = 0;
let windowOpen = false;
let windowStart = 0;
let closed = 0;
let closeReason = "";
let running = false;

/**
 * The hub's ping is a `{}` line, alone or coalesced with pushes; the answer is `{}`. Every
 * other line is an object with a key, so `{}` can only start a frame or follow a newline.
 */
function isPing(buf: Buffer): boolean {
  if (buf[0] === 0x7b && buf[1] === 0x7d && (buf.length === 2 || buf[2] === 0x0a)) return true;
  return buf.indexOf(PING_LINE) >= 0;
}

/** Counts the publications of one WebSocket message; on latency sockets also reads their timestamps. */
function count(buf: Buffer, timed: boolean): void {
  let i = buf.indexOf(PUB);
  const t = timed && i >= 0 ? now() : 0;
  while (i >= 0) {
    received++;
    if (timed) {
      const j = buf.indexOf(T, i);
      if (j >= 0) {
        // The number ends at `,` or `}`; parseFloat stops there by itself.
        const sent = parseFloat(buf.toString("latin1", j + T.length, Math.min(buf.length, j + T.length + 24)));
        if (Number.isFinite(sent)) record(t - sent);
      }
    }
    i = buf.indexOf(PUB, i + PUB.length);
  }
}

function noteClose(reason: string): void {
  if (!running) return;
  closed++;
  closeReason ||= reason;
}

/** Opens one subscriber; resolves with "" when subscribed, else with what went wrong. */
function open(url: string, channel: string, timed: boolean, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true });
    let done = false;
    const finish = (err: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) ws.terminate();
      else sockets.push(ws);
      resolve(err);
    };
    const timer = setTimeout(() => finish(`no subscribe reply within ${timeoutMs} ms`), timeoutMs);
    const onFrame = (data: Buffer) => {
      if (isPing(data)) ws.send("{}");
      if (windowOpen) count(data, timed);
    };
    ws.on("open", () => ws.send(handshake(channel)));
    ws.on("message", (raw) => {
      const data = raw as Buffer;
      if (done) return onFrame(data);
      const err = handshakeOutcome(data.toString("latin1"));
      if (err !== null) finish(err);
      // Anything after the replies in the same frame (a publication) is counted too.
      if (done) onFrame(data);
    });
    ws.on("close", (code, reason) => {
      if (!done) return finish(`closed before subscribing: ${code} ${reason.toString()}`);
      noteClose(`${code} ${reason.toString()}`);
    });
    ws.on("error", (err) => finish(`error: ${err.message}`));
  });
}

const handshake = (channel: string) => `{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"${channel}"}}`;

/** null while the subscribe reply has not come; "" once subscribed; else the error. */
function handshakeOutcome(text: string): string | null {
  const c = text.indexOf('{"id":1,"error"');
  if (c >= 0) return `connect refused: ${text.slice(c, text.indexOf("}}", c) + 2)}`;
  const i = text.indexOf('{"id":2,');
  if (i < 0) return null;
  return text.startsWith('{"id":2,"error"', i) ? `subscribe refused: ${text.slice(i, text.indexOf("}}", i) + 2)}` : "";
}

async function connectAll(url: string, n: number, channel: string, deadlineMs: number): Promise<GenReport> {
  const start = Date.now();
  const every = Math.max(1, Math.floor(n / LATENCY_SOCKETS));
  let failed = 0;
  let firstError = "";
  const batch = 250;
  for (let i = 0; i < n; i += batch) {
    const left = deadlineMs - (Date.now() - start);
    if (left <= 0) {
      failed += n - i;
      firstError ||= `connect deadline of ${deadlineMs} ms reached`;
      break;
    }
    const errors = await Promise.all(
      Array.from({ length: Math.min(batch, n - i) }, (_, k) => open(url, channel, (i + k) % every === 0, Math.min(left, 20_000))),
    );
    for (const e of errors) {
      if (!e) continue;
      failed++;
      firstError ||= e;
    }
  }
  running = true;
  return { type: "connected", ready: sockets.length, failed, firstError, ms: Date.now() - start };
}

process.on("message", (cmd: GenCommand) => {
  const reply = (r: GenReport) => process.send!(r);
  switch (cmd.type) {
    case "connect":
      void connectAll(cmd.url, cmd.count, cmd.channel, cmd.deadlineMs).then(reply);
      break;
    case "window-start":
      received = 0;
      hist = new Uint32Array(BUCKETS);
      samples = 0;
      maxLatency = 0;
      windowStart = performance.now();
      windowOpen = true;
      reply({ type: "ok" });
      break;
    case "window-end":
      windowOpen = false;
      reply({
        type: "window",
        received,
        seconds: (performance.now() - windowStart) / 1000,
        p50: percentile(50),
        p99: percentile(99),
        max: maxLatency,
        samples,
        closed,
        closeReason,
      });
      break;
    case "close":
      running = false;
      for (const ws of sockets) ws.terminate();
      process.exit(0);
  }
});
// The orchestrator gone means nobody will close us.
process.on("disconnect", () => process.exit(0));
