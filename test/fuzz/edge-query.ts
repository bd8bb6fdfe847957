/**
 * SSE and long-poll query strings: GET /connection/sse?... and /connection/poll?... with
 * channels (valid, private, unknown, invalid, too many), tokens, subscription tokens,
 * `since` positions, Last-Event-ID, client/secret/timeout, unknown and raw junk parameters.
 * A request is answered with an HTTP error and a JSON `{"error":{...}}` body, or with the
 * stream: the connect reply first, then one reply per channel in the order given.
 */
import fc from "fast-check";
import http from "node:http";
import { ErrorCode, DisconnectCode } from "../../src/gen/realtime/v1/types.js";
import { ERROR_CODES, expectedHttpStatus, HTTP_OWN_STATUS } from "./codes.js";
import { API_KEY, CONNECT_OUTCOME, type FuzzHub, type FuzzRun, LogCapture, post } from "./harness.js";
import { asText, channelRef, clip, CHANNELS, type ConnectTokenName, connectTokenRef, type Fuzzed, offsetValue, Sym, subTokenRef, weirdString, weirdValue } from "./values.js";

/** Channels one SSE or long-poll connection may name (http-server.ts MAX_QUERY_CHANNELS). */
const MAX_QUERY_CHANNELS = 64;
const ANSWER_TIMEOUT_MS = 8000;

type Param =
  | { key: "channel"; value: Fuzzed }
  | { key: "token"; value: Fuzzed }
  | { key: "token:"; channel: Fuzzed; value: Fuzzed }
  | { key: "since"; channel: Fuzzed; epoch: Fuzzed; offset: Fuzzed }
  | { key: "other"; name: Fuzzed; value: Fuzzed };

export interface EdgeCase {
  path: "sse" | "poll";
  verb: string;
  params: Param[];
  /** Appended to the encoded query as is. */
  raw: string;
  lastEventId: string | null;
  /** Long-poll: poll the session once more before it is disconnected. */
  followUp: boolean;
}

const param: fc.Arbitrary<Param> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ key: fc.constant("channel" as const), value: channelRef }) },
  {
    weight: 4,
    arbitrary: fc.record({
      key: fc.constant("token" as const),
      value: fc.oneof({ weight: 6, arbitrary: fc.constant(new Sym("token", "valid")) }, { weight: 3, arbitrary: connectTokenRef }, { weight: 1, arbitrary: weirdValue }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ key: fc.constant("token:" as const), channel: channelRef, value: fc.oneof(subTokenRef, weirdString) }) },
  {
    weight: 2,
    arbitrary: fc.record({ key: fc.constant("since" as const), channel: channelRef, epoch: fc.oneof(fc.constantFrom("", "x"), weirdString), offset: offsetValue }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      key: fc.constant("other" as const),
      name: fc.oneof(fc.constantFrom("client", "secret", "timeout", "Channel", "channel[]", "token:", "since", "", "__proto__"), weirdString),
      value: fc.oneof(fc.constantFrom("0", "-1", "1e9", "0.001", "NaN", ""), weirdString),
    }),
  },
);

const tokenParam: fc.Arbitrary<Param> = param.filter((p) => p.key === "token");
const channelParam: fc.Arbitrary<Param> = fc.record({
  key: fc.constant("channel" as const),
  value: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...CHANNELS.filter((c) => c !== "nope:z")).map((c) => new Sym("channel", c) as Fuzzed) }, { weight: 1, arbitrary: channelRef }),
});

const params: fc.Arbitrary<Param[]> = fc.oneof(
  // Mostly a token, some channels, maybe more: the shape of a real request, so most get past connect.
  {
    weight: 14,
    arbitrary: fc
      .tuple(fc.option(tokenParam, { freq: 6, nil: undefined }), fc.array(channelParam, { minLength: 1, maxLength: 4 }), fc.array(param, { maxLength: 2 }))
      .map(([t, chans, more]) => [...(t ? [t] : []), ...chans, ...more]),
  },
  { weight: 6, arbitrary: fc.array(param, { maxLength: 6 }) },
  // Many channels: at, over and far over the limit.
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom(MAX_QUERY_CHANNELS, MAX_QUERY_CHANNELS + 1, 300), fc.constantFrom(...CHANNELS)).map(([n, c]) => [
      { key: "token" as const, value: new Sym("token", "valid") },
      ...Array.from({ length: n }, (_, i): Param => ({ key: "channel", value: i % 2 ? new Sym("channel", c) : `hist:many-${i}` })),
    ]),
  },
);

export const edgeCase: fc.Arbitrary<EdgeCase> = fc.record({
  path: fc.constantFrom("sse" as const, "poll" as const),
  verb: fc.oneof({ weight: 20, arbitrary: fc.constant("GET") }, { weight: 1, arbitrary: fc.constantFrom("POST", "PUT", "DELETE") }),
  params,
  raw: fc.oneof(
    { weight: 10, arbitrary: fc.constant("") },
    { weight: 1, arbitrary: fc.constantFrom("&", "&&=&", "%", "%zz", "&channel=%E0%A4%A", "&channel", "&=x", "&channel=%00", "&token=%ff%fe", "#frag", "&since=%3A%3A", "&channel=hist%3Aa&channel=hist%3Aa", "&channel=+") },
  ),
  lastEventId: fc.oneof(
    { weight: 8, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.oneof(fc.constantFrom("hist:a:x:1", "::", "a:b:c", "hist:a:x:99999999999999999999999", ""), fc.string({ unit: "grapheme-ascii", maxLength: 30 })) },
  ),
  followUp: fc.boolean(),
});

/** The query string, and whether the case is simple enough to know the token's outcome. */
function query(c: EdgeCase, run: FuzzRun): { qs: string; channels: string[]; simple: boolean; token: ConnectTokenName | null | undefined } {
  const sp = new URLSearchParams();
  const channels: string[] = [];
  let simple = c.raw === "" && c.lastEventId === null;
  let token: ConnectTokenName | null | undefined = null;
  for (const p of c.params) {
    switch (p.key) {
      case "channel": {
        const v = asText(p.value, run);
        sp.append("channel", v);
        channels.push(v);
        // Known namespaces and valid names only: then the channel list is not what fails.
        if (!(p.value instanceof Sym) || p.value.name === "nope:z") simple = false;
        break;
      }
      case "token":
        sp.append("token", asText(p.value, run));
        if (token === null) token = p.value instanceof Sym ? (p.value.name as ConnectTokenName) : undefined;
        break;
      case "token:":
        sp.append("token:" + asText(p.channel, run), asText(p.value, run));
        break;
      case "since":
        sp.append("since", `${asText(p.channel, run)}:${asText(p.epoch, run)}:${asText(p.offset, run)}`);
        simple = false;
        break;
      case "other":
        sp.append(asText(p.name, run), asText(p.value, run));
        simple = false;
        break;
    }
  }
  if (token === undefined) simple = false;
  const qs = sp.toString() + c.raw;
  // The channels as the hub will read them (raw junk may add some).
  const seen = new URL(`http://hub/?${qs}`).searchParams.getAll("channel");
  return { qs, channels: seen.length === channels.length ? channels : seen, simple, token };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** SSE: the data lines of the events read; poll: the body's lines; errors: the body. */
  lines: string[];
  body: string;
  timedOut: boolean;
}

/** A GET that reads until `enough(lines)` (SSE streams never end by themselves) or the end. */
function request(url: string, verb: string, headers: Record<string, string>, enough: (lines: string[]) => boolean): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: verb, headers, agent: false }, (res) => {
      const sse = String(res.headers["content-type"] ?? "").startsWith("text/event-stream");
      let body = "";
      const lines: string[] = [];
      let done = false;
      const finish = (timedOut: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (!sse) for (const l of body.split("\n")) if (l.trim()) lines.push(l);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, lines, body, timedOut });
        req.destroy();
      };
      const timer = setTimeout(() => finish(true), ANSWER_TIMEOUT_MS);
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
        if (!sse) return;
        let i: number;
        while ((i = body.indexOf("\n\n")) >= 0) {
          const event = body.slice(0, i);
          body = body.slice(i + 2);
          for (const l of event.split("\n")) if (l.startsWith("data: ")) lines.push(l.slice(6));
        }
        if (enough(lines)) finish(false);
      });
      res.on("end", () => finish(false));
      res.on("error", () => finish(false));
    });
    req.on("error", reject);
    req.end();
  });
}

/** The SSE / long-poll property's body. */
export async function runEdgeCase(fh: FuzzHub, c: EdgeCase): Promise<void> {
  const run = fh.newRun();
  await run.prepare(...c.params.map((p) => ("value" in p ? p.value : null)));
  const { qs, channels, simple, token } = query(c, run);
  const url = `${fh.hub.httpUrl}/connection/${c.path}?${qs}`;
  const headers: Record<string, string> = {};
  if (c.lastEventId !== null) headers["Last-Event-ID"] = c.lastEventId;
  const logMark = fh.logs.mark;
  const shown = `${c.verb} /connection/${c.path}?${clip(qs, 800)}${c.lastEventId !== null ? ` Last-Event-ID: ${JSON.stringify(c.lastEventId)}` : ""}`;
  const fail = (msg: string, a?: Answer): never => {
    throw new Error(`${msg}\n  request: ${shown}${a ? `\n  response: ${a.status} ${clip(a.lines.length ? a.lines.join("\n    ") : a.body, 1500)}` : ""}`);
  };
  fh.stats.add(`edge.${c.path}.requests`);
  // The stream holds the connect reply, then one reply per channel; pushes may come between.
  const enough = (lines: string[]) => lines.filter((l) => /^\{"(id|connect)"/.test(l)).length >= channels.length + 1;
  let a: Answer;
  try {
    a = await request(url, c.verb, headers, enough);
  } catch (err) {
    return fail(`no HTTP answer: ${(err as Error).message}`);
  }
  fh.stats.add(`edge.${c.path}.status.${a.status}`);

  if (a.status === 200) {
    if (c.verb !== "GET" && c.path === "sse") fail(`${c.verb} on SSE answered 200`, a);
    if (a.timedOut && !enough(a.lines)) fail(`the stream did not send the connect reply and ${channels.length} subscribe replies within ${ANSWER_TIMEOUT_MS} ms`, a);
    checkStream(a, channels.length, fail, fh);
    if (c.path === "poll") await pollAfter(fh, a, c.followUp, fail);
  } else if (refusedByParser(a)) {
    // Refused by Node's HTTP parser (a URL past its 16 KiB header limit, a request it cannot
    // parse): the hub never saw the request, and answers with its JSON error all the same.
    fh.stats.add(`edge.parser-refused.${a.status}`);
  } else {
    let o: any;
    try {
      o = JSON.parse(a.body);
    } catch {
      fail("an error status whose body is not JSON", a);
    }
    const code = o?.error?.code;
    if (!ERROR_CODES.has(code)) fail("an error body without an ErrorCode", a);
    if (code === ErrorCode.ERROR_CODE_INTERNAL) fail("an internal error (100) answered the request", a);
    fh.stats.add(`edge.error.${code}`);
    const own = HTTP_OWN_STATUS[a.status];
    const mapped = expectedHttpStatus(code, o.error.temporary === true);
    if (own !== undefined ? own !== code : mapped !== a.status) fail(`status ${a.status} does not go with error code ${code} (the code's status is ${mapped})`, a);
  }

  // What the request must have led to, where the case is simple enough to say.
  const parserRefused = a.status !== 200 && refusedByParser(a);
  if (channels.length === 0 && !parserRefused && !qs.includes("client=") && a.status !== 400 && !(c.path === "sse" && c.verb !== "GET")) fail("a request without channels must be 400", a);
  if (channels.length > MAX_QUERY_CHANNELS && a.status !== 400 && !(c.path === "sse" && c.verb !== "GET")) fail(`${channels.length} channels (> ${MAX_QUERY_CHANNELS}) must be 400`, a);
  if (simple && !parserRefused && channels.length > 0 && channels.length <= MAX_QUERY_CHANNELS && c.verb === "GET") {
    const want = token ? CONNECT_OUTCOME[token] : "refused";
    const got = a.status === 200 ? "ok" : a.status === 401 && JSON.parse(a.body).error.code === ErrorCode.ERROR_CODE_TOKEN_EXPIRED ? "expired" : a.status === 401 ? "refused" : `status ${a.status}`;
    if (got !== want) fail(`with the ${token ?? "missing"} token the request must be ${want}, it was ${got}`, a);
  }
  const errors = fh.logs.errorsSince(logMark);
  if (errors.length) fail(`the hub logged at error level during this request:\n${LogCapture.describe(errors)}`, a);
}

/** The stream: connect reply, then replies 1..n in order (pushes may come between). */
function checkStream(a: Answer, n: number, fail: (m: string, a?: Answer) => never, fh: FuzzHub): void {
  const objs = a.lines.map((l) => {
    try {
      return JSON.parse(l);
    } catch {
      return fail(`the stream sent a line that is not JSON: ${clip(l)}`, a);
    }
  });
  if (!objs[0]?.connect) fail("the stream does not start with the connect reply", a);
  let next = 1;
  for (const o of objs.slice(1)) {
    if (o.id !== undefined) {
      if (o.id !== next) fail(`reply ${o.id} where reply ${next} was due`, a);
      next++;
      if (o.error) {
        if (!ERROR_CODES.has(o.error.code)) fail(`a reply whose error code is not an ErrorCode: ${JSON.stringify(o)}`, a);
        if (o.error.code === ErrorCode.ERROR_CODE_INTERNAL) fail(`an internal error (100) answered a subscription: ${JSON.stringify(o)}`, a);
        fh.stats.add(`edge.subscribe-error.${o.error.code}`);
      } else if (!o.subscribe) fail(`a reply that is neither subscribe nor error: ${clip(JSON.stringify(o))}`, a);
    } else if (!o.push && Object.keys(o).length !== 0) fail(`a line that is neither reply, push nor ping: ${clip(JSON.stringify(o))}`, a);
  }
  if (next !== n + 1) fail(`${next - 1} subscribe replies for ${n} channels`, a);
}

/**
 * A long-poll session: poll it (when asked), disconnect it through the API, and expect the
 * disconnect push on the next poll and 404 after it; so no session outlives its case.
 */
async function pollAfter(fh: FuzzHub, a: Answer, followUp: boolean, fail: (m: string, a?: Answer) => never): Promise<void> {
  const client = JSON.parse(a.lines[0]!).connect.client as string;
  const secret = a.headers["x-poll-secret"];
  if (typeof secret !== "string" || !secret) fail("the first long-poll answer has no X-Poll-Secret header", a);
  const pollUrl = `${fh.hub.httpUrl}/connection/poll?client=${encodeURIComponent(client)}&secret=${encodeURIComponent(secret)}&timeout=0`;
  const poll = () => request(pollUrl, "GET", {}, () => false);
  if (followUp) {
    const p = await poll();
    if (p.status !== 200) fail(`a poll of a live session answered ${p.status}`, p);
  }
  const d = await post(`${fh.hub.httpUrl}/api/disconnect`, JSON.stringify({ client }), { "Content-Type": "application/json", Authorization: `apikey ${API_KEY}` });
  if (d.status !== 200) fail(`Disconnect of the long-poll session answered ${d.status}: ${d.body.toString()}`);
  if (!followUp) return;
  const last = await poll();
  const push = last.lines.map((l) => JSON.parse(l)).find((o) => o.push?.disconnect);
  if (last.status !== 200 || push?.push.disconnect.code !== DisconnectCode.DISCONNECT_CODE_FORCE_NO_RECONNECT)
    fail(`after Disconnect, the next poll must return the disconnect push (3504)`, last);
  const gone = await poll();
  if (gone.status !== 404) fail(`after its disconnect push, the session must be gone (404)`, gone);
}

/**
 * Refused by Node's HTTP parser (a URL past its 16 KiB header limit, a request it cannot
 * parse): the hub never saw the request, and answers with its JSON error all the same.
 */
function refusedByParser(a: { status: number; body: string; headers: Record<string, unknown> }): boolean {
  if (a.headers.connection !== "close") return false;
  let e: { code?: number; message?: string } | undefined;
  try {
    e = (JSON.parse(a.body) as { error?: typeof e }).error;
  } catch {
    return false;
  }
  return (a.status === 431 && e?.code === 106) || (a.status === 400 && e?.code === 107 && e.message === "malformed HTTP request");
}
