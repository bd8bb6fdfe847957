/**
 * WebSocket frames: random lines and mutated valid commands of the client protocol, many per
 * frame or one, text, binary, invalid UTF-8 or oversize, on a connection that connected with
 * a valid token (mostly) or with another token or none. Each frame is followed by a ping
 * command (a sentinel): commands are answered in order, so once its reply is in, every
 * reply to the frame is too, and the frame is judged against a small model of the protocol.
 */
import fc from "fast-check";
import WebSocket from "ws";
import { DisconnectCode, ErrorCode } from "../../src/gen/realtime/v1/types.js";
import { DISCONNECT_CODES, ERROR_CODES } from "./codes.js";
import { CONNECT_OUTCOME, type FuzzHub, LogCapture } from "./harness.js";
import {
  applyTextMutation,
  b64Payload,
  channelRef,
  clip,
  CONNECT_TOKENS,
  type ConnectTokenName,
  dataValue,
  deepNesting,
  Filler,
  type Fuzzed,
  mutate,
  type Mutation,
  mutation,
  type Resolver,
  offsetValue,
  Raw,
  Sym,
  subTokenRef,
  textMutation,
  type TextMutation,
  toJsonText,
  tokenRef,
  weirdString,
  weirdValue,
} from "./values.js";

/** WebSocket close codes ws itself uses: normal, abnormal (no close frame), invalid UTF-8, too big. */
const WS_CLOSE_CODES = new Set([1000, 1006, 1007, 1009]);
const RESULT_KEYS = ["connect", "subscribe", "unsubscribe", "publish", "presence", "presenceStats", "history", "rpc", "refresh", "ping"];
const PUSH_KEYS = ["pub", "join", "leave", "unsubscribe", "disconnect"];
/** Code of the unsubscribe push (session.ts UNSUBSCRIBE_CODE_SERVER). */
const UNSUBSCRIBE_PUSH_CODE = 2000;
/** Commands in flight on one connection before it is closed (session.ts MAX_PENDING_COMMANDS). */
const MAX_PENDING_COMMANDS = 512;
/** Sentinel ids: far from what the fuzz generates. */
const SENTINEL_BASE = 3_000_000_000;
const FRAME_TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------- generators

type LineSpec =
  | { kind: "cmd"; cmd: Fuzzed; muts: Mutation[]; text: TextMutation | null }
  | { kind: "raw"; raw: string | Raw | Filler };

type FrameSpec =
  | { kind: "text"; lines: LineSpec[]; sep: string }
  /** Not a frame: closes the connection (normally) and opens a new one, to recover on. */
  | { kind: "reconnect" }
  /** Many small commands in one frame, numbered 1..count (the in-flight limit is 512). */
  | { kind: "many"; count: number; cmd: Fuzzed }
  | { kind: "binary"; bytes: Uint8Array }
  | { kind: "invalid-utf8"; prefix: string }
  | { kind: "oversize"; extra: number };

export interface WsCase {
  /** Token of the connect sent when the connection opens; null: none (the frames may connect). */
  token: ConnectTokenName | null;
  frames: FrameSpec[];
}

const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { freq: 3, nil: undefined });
const rec = <T extends Record<string, fc.Arbitrary<unknown>>>(r: T) => fc.record(r, { requiredKeys: [] });

const id: fc.Arbitrary<Fuzzed> = fc.oneof(
  { weight: 30, arbitrary: fc.integer({ min: 1, max: 999 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Fuzzed>(0, -1, 1.5, "7", null, true, {}, [], 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53, new Raw("1e20"), new Raw("1e400"), new Raw("-0"), new Raw("7.0"), new Raw("0.5e1")),
  },
);

/** Channels with history, where recovery means something. */
const RECOVERABLE = ["hist:a", "hist:b", "priv:x"] as const;

/** A subscribe that recovers from a position the run has seen (or near it). */
const recoverSubscribe: fc.Arbitrary<Fuzzed> = fc
  .tuple(fc.constantFrom(...RECOVERABLE), fc.constantFrom(0, 0, -1, -2, -5, -49, -60, 1), fc.boolean())
  .map(([c, delta, withToken]) => ({
    channel: new Sym("channel", c),
    recover: true,
    epoch: new Sym("epoch", c),
    offset: new Sym("offset", `${c}|${delta}`),
    ...(withToken && c.startsWith("priv:") ? { token: new Sym("token", `sub:${c}`) } : {}),
  }));

const plainSubscribe: fc.Arbitrary<Fuzzed> = fc
  .tuple(channelRef, fc.record({ token: fc.option(fc.oneof(subTokenRef, tokenRef), { freq: 3, nil: undefined }), recover: fc.option(fc.oneof(fc.boolean(), weirdValue), { freq: 3, nil: undefined }), epoch: fc.option(fc.oneof(fc.constantFrom("", "x1", "00000000"), weirdString), { freq: 3, nil: undefined }), offset: fc.option(offsetValue, { freq: 3, nil: undefined }) }, { requiredKeys: [] }))
  .map(([channel, rest]) => ({ channel, ...rest }) as Fuzzed);

const methods: Record<string, fc.Arbitrary<Fuzzed>> = {
  connect: rec({ token: opt(tokenRef), data: opt(dataValue), name: opt(weirdString), version: opt(weirdString) }) as fc.Arbitrary<Fuzzed>,
  subscribe: fc.oneof(
    { weight: 2, arbitrary: recoverSubscribe },
    { weight: 5, arbitrary: plainSubscribe },
  ),
  unsubscribe: channelRef.map((channel) => ({ channel })),
  publish: fc.oneof(
    { weight: 3, arbitrary: fc.tuple(channelRef, dataValue).map(([channel, data]) => ({ channel, data })) },
    { weight: 2, arbitrary: fc.tuple(channelRef, b64Payload).map(([channel, b64data]) => ({ channel, b64data })) },
  ),
  presence: channelRef.map((channel) => ({ channel })),
  presenceStats: channelRef.map((channel) => ({ channel })),
  history: fc
    .tuple(
      channelRef,
      rec({
        limit: opt(fc.oneof(fc.integer({ min: -5, max: 60 }), fc.constantFrom<Fuzzed>(2 ** 31, -(2 ** 31) - 1, "10", 1.5, new Raw("1e400")))),
        since: opt(
          fc.oneof(
            rec({ offset: opt(offsetValue), epoch: opt(fc.oneof(fc.constant("x"), weirdString)) }) as fc.Arbitrary<Fuzzed>,
            fc.tuple(fc.constantFrom(...RECOVERABLE), fc.constantFrom(0, -1, -3)).map(([c, d]) => ({ offset: new Sym("offset", `${c}|${d}`), epoch: new Sym("epoch", c) })),
          ),
        ),
        reverse: opt(fc.oneof(fc.boolean(), weirdValue)),
      }),
    )
    .map(([channel, rest]) => ({ channel, ...rest })),
  refresh: rec({ token: opt(tokenRef) }) as fc.Arbitrary<Fuzzed>,
  rpc: rec({ method: opt(weirdString), data: opt(dataValue) }) as fc.Arbitrary<Fuzzed>,
  ping: fc.constantFrom<Fuzzed>({}, { extra: 1 }),
};

const METHOD_WEIGHTS: Record<string, number> = { connect: 2, subscribe: 6, unsubscribe: 2, publish: 6, presence: 2, presenceStats: 2, history: 3, refresh: 1, rpc: 1, ping: 2 };

const command: fc.Arbitrary<Fuzzed> = fc
  .tuple(id, fc.oneof(...Object.entries(methods).map(([m, a]) => ({ weight: METHOD_WEIGHTS[m]!, arbitrary: a.map((body) => [m, body] as const) }))))
  .map(([i, [m, body]]) => ({ id: i, [m]: body }));

const rawLine: fc.Arbitrary<string | Raw | Filler> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      "{}",
      '{"id":0}',
      "null",
      "[]",
      "1",
      '"x"',
      "{",
      "}",
      " ",
      "\r",
      "\t",
      "\ufeff",
      '{"id":1}',
      '{"id":-1,"ping":{}}',
      '{"id":1.5,"ping":{}}',
      '{"id":"1","ping":{}}',
      '{"id":null,"ping":{}}',
      '{"ping":{}}',
      '{"id":1,"ping":{}}//',
      '{"id":1,"ping":{}}}',
      "nul",
      "true",
      '{"id":1,"__proto__":{"ping":{}}}',
      '{"id":2,"constructor":{"ping":{}}}',
      '{"id":3,"ping":{},"ping":null}',
    ),
  },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 1, arbitrary: deepNesting },
);

const line: fc.Arbitrary<LineSpec> = fc.oneof(
  {
    weight: 30,
    arbitrary: fc.record({
      kind: fc.constant("cmd" as const),
      cmd: command,
      muts: fc.oneof({ weight: 2, arbitrary: fc.constant([] as Mutation[]) }, { weight: 2, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) }),
      text: fc.oneof({ weight: 24, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: textMutation }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("raw" as const), raw: rawLine }) },
);

const frame: fc.Arbitrary<FrameSpec> = fc.oneof(
  {
    weight: 60,
    arbitrary: fc.record({
      kind: fc.constant("text" as const),
      lines: fc.array(line, { minLength: 1, maxLength: 4 }),
      sep: fc.constantFrom("\n", "\n", "\n", "\r\n", "\n\n", "\n \t\n"),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("many" as const),
      count: fc.constantFrom(20, 200, 512, 513, 700),
      cmd: fc.constantFrom<Fuzzed>(
        { ping: {} },
        { presence: { channel: new Sym("channel", "hist:a") } },
        { publish: { channel: new Sym("channel", "hist:a"), data: { n: 1 } } },
        { subscribe: { channel: new Sym("channel", "hist:b") } },
        { history: { channel: new Sym("channel", "hist:a"), limit: 50 } },
        { connect: { token: new Sym("token", "valid") } },
      ),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: "reconnect" as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("binary" as const), bytes: fc.uint8Array({ maxLength: 32 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("invalid-utf8" as const), prefix: fc.constantFrom('{"id":1,"ping":{}}', '{"id":1,"publish":{"channel":"x","data":"', "") }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("oversize" as const), extra: fc.constantFrom(1, 100, 5000) }) },
);

export const wsCase: fc.Arbitrary<WsCase> = fc.record({
  token: fc.oneof(
    { weight: 14, arbitrary: fc.constant("valid") },
    { weight: 3, arbitrary: fc.constantFrom<ConnectTokenName | null>(...CONNECT_TOKENS) },
    { weight: 2, arbitrary: fc.constant(null) },
  ),
  frames: fc.array(frame, { minLength: 1, maxLength: 12 }),
});

// ---------------------------------------------------------------- the connection

interface Received {
  text: string;
  obj: any;
}

/** One fuzzing WebSocket connection: what it received, and how it closed. */
class Conn {
  received: Received[] = [];
  closed: { code: number; reason: string } | null = null;
  private wake: (() => void) | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      for (const text of data.toString().split("\n")) {
        if (text.trim() === "") continue;
        let obj: any;
        try {
          obj = JSON.parse(text);
        } catch {
          obj = undefined;
        }
        this.received.push({ text, obj });
      }
      this.wake?.();
    });
    ws.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake?.();
    });
    ws.on("error", () => undefined);
  }

  static open(url: string): Promise<Conn> {
    const ws = new WebSocket(url, { maxPayload: 256 * 1024 * 1024 });
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(new Conn(ws)));
      ws.once("error", reject);
    });
  }

  /** Waits until `done()` or the close; false on timeout. */
  async until(done: () => boolean, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (!done() && !this.closed) {
      const left = end - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
      this.wake = null;
    }
    return true;
  }

  take(): Received[] {
    const r = this.received;
    this.received = [];
    return r;
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    else this.ws.terminate();
  }
}

// ---------------------------------------------------------------- the model

type LineClass = { kind: "blank" } | { kind: "pong" } | { kind: "fatal"; why: string } | { kind: "answer"; id: number; obj: Record<string, any> };

/** What the protocol says about one line (docs/protocol.md), as the hub will receive it. */
function classifyLine(text: string): LineClass {
  if (text.trim() === "") return { kind: "blank" };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { kind: "fatal", why: "malformed JSON" };
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return { kind: "fatal", why: "not an object" };
  const o = v as Record<string, any>;
  const idv = typeof o.id === "number" && Number.isInteger(o.id) && o.id >= 0 ? o.id : 0;
  if (o.id !== undefined && o.id !== idv) return { kind: "fatal", why: "id not a non-negative integer" };
  if (idv === 0 && Object.keys(o).some((k) => k !== "id")) return { kind: "fatal", why: "no id" };
  if (idv === 0) return { kind: "pong" };
  return { kind: "answer", id: idv, obj: o };
}

/** The method a decodable line names (the first known key), for the subscription model. */
function methodOf(o: Record<string, any>): string | undefined {
  const found = RESULT_KEYS.filter((k) => o[k] !== undefined && o[k] !== null);
  return found.length === 1 ? found[0] : undefined;
}

interface ConnState {
  conn: Conn;
  /** This connection's client id, once connected (from the connect reply). */
  clientId: string | null;
  /** Channel -> the stream position this connection has: the subscribe reply's, then each publication's. */
  subs: Map<string, { epoch: string; offset: number }>;
}

/** A failed check, with the frame's transcript. */
class Finding extends Error {}

function materializeLine(l: LineSpec, run: Resolver): string {
  if (l.kind === "raw") return l.raw instanceof Raw ? l.raw.text : l.raw.toString();
  return applyTextMutation(toJsonText(mutate(l.cmd, l.muts), run), l.text);
}

function frameText(f: FrameSpec & { kind: "text" | "many" }, run: Resolver): string {
  if (f.kind === "text") return f.lines.map((l) => materializeLine(l, run)).join(f.sep);
  const body = toJsonText(f.cmd, run).slice(1);
  return Array.from({ length: f.count }, (_, i) => `{"id":${i + 1},${body}`).join("\n");
}

/** The WebSocket property's body: throws a Finding on the first frame that breaks the protocol. */
export async function runWsCase(fh: FuzzHub, c: WsCase): Promise<void> {
  const run = fh.newRun();
  await run.prepare(...c.frames.flatMap((f) => (f.kind === "text" ? f.lines.map((l) => (l.kind === "cmd" ? l.cmd : null)) : f.kind === "many" ? [f.cmd] : [])));
  const maxBytes = fh.hub.config.maxMessageBytes;
  const logMark = fh.logs.mark;
  let sentinel = SENTINEL_BASE + (fh.stats.get("ws.frames") % 1_000_000_000);
  let state: ConnState | null = null;
  // Stream positions the run has seen, by channel: what «epoch:…» and «offset:…» resolve to,
  // so a later subscribe (on this connection or the next) recovers from a real position.
  const positions = new Map<string, { epoch: string; offset: number }>();
  const learn = (channel: string, epoch: string, offset: number) => {
    const p = positions.get(channel);
    if (!p || p.epoch !== epoch || p.offset < offset) positions.set(channel, { epoch, offset });
  };
  const resolver: Resolver = {
    channel: (n) => run.channel(n),
    token: (n) => run.token(n),
    epoch: (c) => positions.get(run.channel(c))?.epoch ?? "",
    offset: (spec) => {
      const [c, d] = spec.split("|");
      return String(Math.max(0, (positions.get(run.channel(c!))?.offset ?? 0) + Number(d)));
    },
  };
  const transcript: string[] = [];
  const fail = (msg: string): never => {
    throw new Finding(`${msg}\n--- transcript (last frames) ---\n${transcript.slice(-12).join("\n")}`);
  };

  /** Opens a connection and sends the case's connect; checks what each token must lead to. */
  const open = async (): Promise<ConnState> => {
    const conn = await Conn.open(fh.hub.wsUrl);
    fh.stats.add("ws.connections");
    const st: ConnState = { conn, clientId: null, subs: new Map() };
    if (c.token === null) return st;
    conn.ws.send(JSON.stringify({ id: 1, connect: { token: run.token(c.token) } }));
    await conn.until(() => conn.received.some((r) => r.obj?.id === 1), FRAME_TIMEOUT_MS);
    const reply = conn.received.find((r) => r.obj?.id === 1)?.obj;
    const want = CONNECT_OUTCOME[c.token];
    const got = reply?.connect ? "ok" : reply?.error?.code === 109 ? "expired" : reply?.error?.code === 101 ? "refused" : `reply ${JSON.stringify(reply)}`;
    transcript.push(`[connect with token ${c.token}] -> ${reply ? clip(JSON.stringify(reply), 200) : "no reply"}${conn.closed ? ` closed ${conn.closed.code}` : ""}`);
    if (got !== want) fail(`connect with the ${c.token} token: expected ${want}, got ${got}${conn.closed ? ` (closed ${conn.closed.code})` : ""}`);
    if (want === "refused") {
      await conn.until(() => false, 2000);
      if (conn.closed?.code !== DisconnectCode.DISCONNECT_CODE_INVALID_TOKEN)
        fail(`connect refused with 101 must close with 3503; the connection ${conn.closed ? `closed with ${conn.closed.code}` : "stayed open"}`);
      // The frames still need a live connection: a fresh one without connect.
      const fresh = await Conn.open(fh.hub.wsUrl);
      fh.stats.add("ws.connections");
      return { conn: fresh, clientId: null, subs: new Map() };
    }
    st.clientId = reply?.connect?.client ?? null;
    conn.take();
    return st;
  };

  try {
    for (const f of c.frames) {
      if (f.kind === "reconnect") {
        state?.conn.close();
        state = null;
        transcript.push("[reconnect]");
        continue;
      }
      if (!state || state.conn.closed) state = await open();
      const conn = state.conn;
      // What goes on the wire, and what the hub will see (ws decodes text frames as UTF-8).
      let payload: string | Buffer;
      let binary = false;
      let label: string;
      if (f.kind === "text" || f.kind === "many") {
        payload = frameText(f, resolver);
        label = `text frame ${clip(JSON.stringify(payload), 400)}`;
      } else if (f.kind === "binary") {
        payload = Buffer.from(f.bytes);
        binary = true;
        label = `binary frame of ${f.bytes.length} bytes`;
      } else if (f.kind === "invalid-utf8") {
        payload = Buffer.concat([Buffer.from(f.prefix), Buffer.from([0xc3, 0x28, 0xff, 0xfe])]);
        label = `text frame with invalid UTF-8 after ${JSON.stringify(f.prefix)}`;
      } else {
        payload = "x".repeat(maxBytes + f.extra);
        label = `text frame of ${maxBytes + f.extra} bytes`;
      }
      const bytes = typeof payload === "string" ? Buffer.byteLength(payload) : payload.length;
      const seen = typeof payload === "string" ? Buffer.from(payload).toString() : "";
      fh.stats.add("ws.frames");
      fh.stats.add("ws.bytes", bytes);
      conn.ws.send(payload, { binary });
      const sid = ++sentinel;
      conn.ws.send(JSON.stringify({ id: sid, ping: {} }));
      const answered = await conn.until(() => conn.received.some((r) => r.obj?.id === sid), FRAME_TIMEOUT_MS);
      const got = conn.take();
      const closed = conn.closed;
      transcript.push(`-> ${label}\n<- ${got.map((r) => clip(r.text, 240)).join("\n<- ") || "(nothing)"}${closed ? `\n<- close ${closed.code} ${JSON.stringify(closed.reason)}` : ""}`);
      if (!answered) fail(`no reply to the sentinel ping within ${FRAME_TIMEOUT_MS} ms, and the connection is still open`);
      if (closed) fh.stats.add(`ws.close.${closed.code}`);
      checkReceived(got, closed, sid, fail, fh);

      // What the model says about this frame.
      const replies = got.filter((r) => r.obj?.id && r.obj.id !== sid);
      if (f.kind !== "text" && f.kind !== "many") {
        const want = f.kind === "binary" ? DisconnectCode.DISCONNECT_CODE_BAD_REQUEST : f.kind === "invalid-utf8" ? 1007 : 1009;
        if (f.kind === "oversize" && bytes <= maxBytes) continue;
        if (closed?.code !== want) fail(`a ${f.kind} frame must close the connection with ${want}; ${closed ? `closed with ${closed.code}` : "it stayed open"}`);
        continue;
      }
      if (bytes > maxBytes) {
        if (closed?.code !== 1009) fail(`a frame of ${bytes} bytes (> maxMessageBytes ${maxBytes}) must close with 1009; ${closed ? `closed with ${closed.code}` : "it stayed open"}`);
        continue;
      }
      const classes = seen.split("\n").map(classifyLine);
      const fatal = classes.findIndex((x) => x.kind === "fatal");
      const answers = (fatal < 0 ? classes : classes.slice(0, fatal)).filter((x): x is LineClass & { kind: "answer" } => x.kind === "answer");
      if (answers.length > MAX_PENDING_COMMANDS) {
        if (closed?.code !== DisconnectCode.DISCONNECT_CODE_BAD_REQUEST) fail(`${answers.length} commands in one frame (> ${MAX_PENDING_COMMANDS} in flight) must close with 3501; ${closed ? `closed with ${closed.code}` : "it stayed open"}`);
        continue;
      }
      // Exactly at the limit, the sentinel itself may arrive while they are all in flight.
      if (answers.length === MAX_PENDING_COMMANDS && closed?.code === DisconnectCode.DISCONNECT_CODE_BAD_REQUEST) continue;
      if (fatal >= 0) {
        const why = (classes[fatal] as { why: string }).why;
        if (closed?.code !== DisconnectCode.DISCONNECT_CODE_BAD_REQUEST) fail(`line ${fatal + 1} cannot be answered (${why}): the connection must close with 3501; ${closed ? `closed with ${closed.code}` : "it stayed open"}`);
        if (!got.some((r) => r.obj && r.obj.id === undefined && r.obj.error?.code === ErrorCode.ERROR_CODE_BAD_REQUEST))
          fail(`line ${fatal + 1} cannot be answered (${why}): expected an error 107 without id before the close`);
        continue;
      }
      // Every line with an id is answered under it, once, unless a refused connect closed the connection.
      if (closed) {
        const refusedConnect = closed.code === DisconnectCode.DISCONNECT_CODE_INVALID_TOKEN && replies.some((r) => r.obj.error?.code === ErrorCode.ERROR_CODE_UNAUTHORIZED);
        if (!refusedConnect && closed.code !== DisconnectCode.DISCONNECT_CODE_SLOW)
          fail(`the connection closed with ${closed.code} ${JSON.stringify(closed.reason)} after well-formed commands`);
        continue;
      }
      const want = answers.map((a) => a.id).sort((a, b) => a - b);
      const have = replies.map((r) => r.obj.id as number).sort((a, b) => a - b);
      if (JSON.stringify(want) !== JSON.stringify(have)) fail(`replies do not match the commands: ids sent ${JSON.stringify(want)}, ids answered ${JSON.stringify(have)}`);
      fh.stats.add("ws.commands", answers.length);
      trackSubscriptions(state, answers, got, sid, fail, fh, learn);
    }
  } finally {
    state?.conn.close();
  }
  const errors = fh.logs.errorsSince(logMark);
  if (errors.length) fail(`the hub logged at error level during this case:\n${LogCapture.describe(errors)}`);
}

/** Every line the hub sent is one the protocol has, with codes from types.proto. */
function checkReceived(got: Received[], closed: { code: number } | null, sentinel: number, fail: (m: string) => never, fh: FuzzHub): void {
  for (const r of got) {
    const o = r.obj;
    if (o === undefined || typeof o !== "object" || o === null || Array.isArray(o)) fail(`the hub sent a line that is not a JSON object: ${clip(r.text)}`);
    if (o.id !== undefined) {
      if (typeof o.id !== "number" || o.id <= 0) fail(`a reply with a bad id: ${clip(r.text)}`);
      const results = RESULT_KEYS.filter((k) => k in o);
      if (o.error) {
        if (!ERROR_CODES.has(o.error.code)) fail(`an error reply whose code is not an ErrorCode: ${clip(r.text)}`);
        if (o.error.code === ErrorCode.ERROR_CODE_INTERNAL) fail(`an internal error (100) answered a command: ${clip(r.text)}`);
        fh.stats.add(`ws.error.${o.error.code}`);
        if (results.length) fail(`a reply with both an error and a result: ${clip(r.text)}`);
      } else if (results.length !== 1) fail(`a reply without exactly one result: ${clip(r.text)}`);
      else if (o.id !== sentinel) fh.stats.add(`ws.ok.${results[0]}`);
    } else if (o.push) {
      const kinds = PUSH_KEYS.filter((k) => k in o.push);
      if (kinds.length !== 1) fail(`a push without exactly one event: ${clip(r.text)}`);
      if (o.push.disconnect) {
        if (!DISCONNECT_CODES.has(o.push.disconnect.code)) fail(`a disconnect push whose code is not a DisconnectCode: ${clip(r.text)}`);
        if (closed && !WS_CLOSE_CODES.has(closed.code) && closed.code !== o.push.disconnect.code)
          fail(`the disconnect push says ${o.push.disconnect.code}, the close frame ${closed.code}`);
      }
      if (o.push.unsubscribe && o.push.unsubscribe.code !== UNSUBSCRIBE_PUSH_CODE) fail(`an unsubscribe push with code ${o.push.unsubscribe.code}: ${clip(r.text)}`);
    } else if (o.error) {
      if (!ERROR_CODES.has(o.error.code)) fail(`an error whose code is not an ErrorCode: ${clip(r.text)}`);
      if (!closed) fail(`an error without id, and the connection stayed open: ${clip(r.text)}`);
    } else if (Object.keys(o).length !== 0) fail(`a line that is neither reply, push nor ping: ${clip(r.text)}`);
  }
  if (closed && !DISCONNECT_CODES.has(closed.code) && !WS_CLOSE_CODES.has(closed.code)) fail(`closed with ${closed.code}, neither a DisconnectCode nor a WebSocket code the hub uses`);
}

/** Offsets as the protocol sends them (64-bit as strings, omitted when 0). */
const num = (v: unknown) => (v === undefined ? 0 : Number(v));

/**
 * The subscription model (docs/protocol.md): after a subscribe reply, the client gets every
 * publication of the channel with a greater offset exactly once and in order, its own
 * included; subscribing twice is 105, unsubscribing what it is not in 110; presence lists
 * the client; recovered publications follow the position asked for.
 */
function trackSubscriptions(
  st: ConnState,
  answers: { id: number; obj: Record<string, any> }[],
  got: Received[],
  sentinel: number,
  fail: (m: string) => never,
  fh: FuzzHub,
  learn: (channel: string, epoch: string, offset: number) => void,
): void {
  // Replies come in the order of the lines: match them to their lines by id, in order.
  const byId = new Map<number, Record<string, any>[]>();
  for (const a of answers) byId.set(a.id, [...(byId.get(a.id) ?? []), a.obj]);
  for (const r of got) {
    const pub = r.obj?.push?.pub;
    if (pub) {
      const ch = r.obj.push.channel as string;
      const sub = st.subs.get(ch);
      if (!sub) return fail(`a publication of ${ch}, which this connection is not subscribed to`);
      if (pub.offset === undefined) continue;
      const off = num(pub.offset);
      if (pub.epoch !== sub.epoch) fail(`publication ${pub.epoch}:${off} of ${ch}: the subscription's epoch is ${sub.epoch}`);
      if (off !== sub.offset + 1) fail(`publication ${off} of ${ch} arrived after ${sub.offset}: each must arrive once and in order`);
      sub.offset = off;
      learn(ch, sub.epoch, off);
      continue;
    }
    if (!r.obj?.id || r.obj.id === sentinel) continue;
    const cmd = byId.get(r.obj.id)?.shift();
    if (!cmd) continue;
    const m = methodOf(cmd);
    if (r.obj.connect) st.clientId = r.obj.connect.client;
    const channel = m ? cmd[m]?.channel : undefined;
    if (typeof channel !== "string") continue;
    const sub = st.subs.get(channel);
    const code = r.obj.error?.code;
    if (r.obj.subscribe) {
      if (sub) fail(`subscribed to ${channel} a second time: expected error 105`);
      const res = r.obj.subscribe;
      const top = num(res.offset);
      const pubs: any[] = res.publications ?? [];
      const offs = pubs.map((p) => num(p.offset));
      if (offs.some((o, i) => o > top || (i > 0 && o <= offs[i - 1]!))) fail(`recovered publications out of order or past the top ${top}: ${JSON.stringify(offs)}`);
      if (res.recovered) {
        const from = num(cmd.subscribe.offset);
        if (Number.isSafeInteger(from) && (offs.length !== top - from || (offs.length > 0 && (offs[0] !== from + 1 || offs.at(-1) !== top))))
          fail(`recovered: true from offset ${from} to ${top}, but the publications are ${JSON.stringify(offs)}`);
        fh.stats.add("ws.recovered-checked");
      }
      st.subs.set(channel, { epoch: res.epoch ?? "", offset: top });
      learn(channel, res.epoch ?? "", top);
    } else if (code === ErrorCode.ERROR_CODE_ALREADY_SUBSCRIBED && !sub) fail(`error 105 (already subscribed) for ${channel}, which this connection is not subscribed to`);
    else if (r.obj.unsubscribe) {
      if (!sub) fail(`unsubscribed from ${channel}, which this connection was not subscribed to: expected error 110`);
      st.subs.delete(channel);
    } else if (code === ErrorCode.ERROR_CODE_NOT_SUBSCRIBED && sub && m === "unsubscribe") fail(`error 110 (not subscribed) for ${channel}, which this connection is subscribed to`);
    else if (r.obj.publish?.offset && !sub) learn(channel, r.obj.publish.epoch ?? "", num(r.obj.publish.offset));
    else if (r.obj.publish?.offset && sub) {
      fh.stats.add("ws.own-publications-checked");
      const off = num(r.obj.publish.offset);
      if (r.obj.publish.epoch !== sub.epoch || sub.offset < off)
        fail(`the publish into ${channel} was acknowledged at ${r.obj.publish.epoch}:${off}, but this connection, subscribed to it, did not receive that publication before the reply`);
    } else if (r.obj.presence && sub && st.clientId) {
      fh.stats.add("ws.presence-checked");
      if (!(st.clientId in (r.obj.presence.presence ?? {}))) fail(`presence of ${channel} does not list this connection (${st.clientId}), which is subscribed to it`);
    } else if (r.obj.history) {
      const limit = cmd.history.limit;
      const n = (r.obj.history.publications ?? []).length;
      if ((typeof limit === "number" || limit === undefined || limit === null) && n > Math.max(0, num(limit ?? 0))) fail(`history with limit ${limit} returned ${n} publications`);
    }
  }
}

