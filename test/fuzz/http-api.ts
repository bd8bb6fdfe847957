/**
 * HTTP API bodies: POST /api/<method> with JSON (mutated valid requests, broken text) or
 * protobuf (encoded requests with damaged bytes, random bytes, decoder-hostile bytes), right
 * and wrong content types, verbs, method names and API keys. Every answer is 200 with a body
 * of the response type, or an error status with `{"error":{"code":<ErrorCode>,...}}`.
 */
import fc from "fast-check";
import { ErrorCode } from "../../src/gen/realtime/v1/types.js";
import * as hub from "../../src/gen/realtime/v1/hub.js";
import { MAX_API_BODY_BYTES } from "../../src/transport/http-api.js";
import { ERROR_CODES, expectedHttpStatus, HTTP_OWN_STATUS } from "./codes.js";
import { API_KEY, type FuzzHub, LogCapture, post } from "./harness.js";
import { applyByteMutations, type ByteMutation, byteMutation, encodeRequest, hostileBytes, REQUESTS, UNARY } from "./api-requests.js";
import { applyTextMutation, clip, type Fuzzed, mutate, type Mutation, mutation, type TextMutation, textMutation, toJsonText } from "./values.js";


type HttpBody =
  | { kind: "json"; method: string; value: Fuzzed; muts: Mutation[]; text: TextMutation | null }
  | { kind: "text"; text: string }
  | { kind: "protobuf"; method: string; value: Fuzzed; bytes: ByteMutation[] }
  | { kind: "bytes"; bytes: Uint8Array }
  | { kind: "hostile"; hostile: { label: string; bytes: Buffer } }
  | { kind: "oversize"; extra: number };

export interface HttpCase {
  /** The URL's method name. */
  route: string;
  verb: string;
  contentType: string | null;
  auth: "ok" | "ok-spaced" | "ok-uppercase" | "none" | "wrong" | "bearer" | "empty";
  body: HttpBody;
}

const ROUTES = Object.keys(UNARY);

const routeName: fc.Arbitrary<string> = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...ROUTES) },
  // Spellings the API accepts: any case, `_` and `-` dropped.
  { weight: 2, arbitrary: fc.constantFrom("presence_stats", "PresenceStats", "PRESENCESTATS", "history-remove", "History_Remove", "Publish", "BROADCAST") },
  { weight: 2, arbitrary: fc.constantFrom("", "nope", "handleRpc", "publishStream", "publish/extra", "publish%00", "..%2Fhealth", "publish?x=1", "%E2%98%83", "p%75blish", "__proto__", "constructor", "toString") },
);

const jsonBody: fc.Arbitrary<HttpBody> = fc.constantFrom(...ROUTES).chain((method) =>
  fc.record({
    kind: fc.constant("json" as const),
    method: fc.constant(method),
    value: REQUESTS[method]!,
    muts: fc.oneof({ weight: 2, arbitrary: fc.constant([] as Mutation[]) }, { weight: 2, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) }),
    text: fc.oneof({ weight: 10, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: textMutation }),
  }),
);

const protobufBody: fc.Arbitrary<HttpBody> = fc.constantFrom(...ROUTES).chain((method) =>
  fc.record({
    kind: fc.constant("protobuf" as const),
    method: fc.constant(method),
    value: REQUESTS[method]!,
    bytes: fc.oneof({ weight: 2, arbitrary: fc.constant([] as ByteMutation[]) }, { weight: 2, arbitrary: fc.array(byteMutation, { minLength: 1, maxLength: 4 }) }),
  }),
);

const body: fc.Arbitrary<HttpBody> = fc.oneof(
  { weight: 40, arbitrary: jsonBody },
  { weight: 20, arbitrary: protobufBody },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant("text" as const),
      text: fc.oneof(fc.constantFrom("", "null", "[]", "1", '"x"', "{", '{"channel":', "{}", "[{}]", '{"__proto__":{"channel":"x"}}', "\ufeff{}"), fc.string({ maxLength: 40 })),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("bytes" as const), bytes: fc.uint8Array({ maxLength: 64 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("hostile" as const), hostile: hostileBytes }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("oversize" as const), extra: fc.constantFrom(1, 1000) }) },
);

export const httpCase: fc.Arbitrary<HttpCase> = fc
  .record({
    route: routeName,
    verb: fc.oneof({ weight: 20, arbitrary: fc.constant("POST") }, { weight: 1, arbitrary: fc.constantFrom("GET", "PUT", "DELETE", "PATCH", "OPTIONS") }),
    contentType: fc.oneof(
      { weight: 10, arbitrary: fc.constant(null as string | null) },
      {
        weight: 3,
        arbitrary: fc.constantFrom<string | null>("application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "application/x-protobuf", "application/protobuf", "text/plain", "", "multipart/form-data; boundary=x", "application/json;;;", "application/x-protobuf; proto=realtime.v1.PublishRequest"),
      },
    ),
    auth: fc.oneof({ weight: 20, arbitrary: fc.constant("ok" as const) }, { weight: 1, arbitrary: fc.constantFrom("ok-spaced" as const, "ok-uppercase" as const, "none" as const, "wrong" as const, "bearer" as const, "empty" as const) }),
    body,
  })
  // A protobuf body goes with a protobuf content type, mostly.
  .map((c) => (c.body.kind === "protobuf" && c.contentType === null ? { ...c, contentType: "application/x-protobuf" } : c));

const AUTH: Record<HttpCase["auth"], string | null> = {
  ok: `apikey ${API_KEY}`,
  "ok-spaced": `apikey   ${API_KEY}  `,
  "ok-uppercase": `APIKEY ${API_KEY}`,
  none: null,
  wrong: "apikey nope",
  bearer: `Bearer ${API_KEY}`,
  empty: "",
};

/** The HTTP API property's body. */
export async function runHttpCase(fh: FuzzHub, c: HttpCase): Promise<void> {
  const run = fh.newRun();
  const b = c.body;
  await run.prepare("value" in b ? b.value : null);
  let payload: Buffer;
  let label: string;
  switch (b.kind) {
    case "json": {
      const text = applyTextMutation(toJsonText(mutate(b.value, b.muts), run), b.text);
      payload = Buffer.from(text);
      label = `JSON ${clip(text, 600)}`;
      break;
    }
    case "text":
      payload = Buffer.from(b.text);
      label = `text ${JSON.stringify(clip(b.text, 200))}`;
      break;
    case "protobuf":
      payload = applyByteMutations(encodeRequest(b.method, b.value, run), b.bytes);
      label = `protobuf (${b.method} request${b.bytes.length ? ", damaged" : ""}) ${clip(payload.toString("hex"), 400)}`;
      break;
    case "bytes":
      payload = Buffer.from(b.bytes);
      label = `bytes ${payload.toString("hex")}`;
      break;
    case "hostile":
      payload = b.hostile.bytes;
      label = b.hostile.label;
      break;
    case "oversize":
      payload = Buffer.alloc(MAX_API_BODY_BYTES + b.extra, 0x20);
      label = `${payload.length} bytes of spaces`;
      break;
  }
  const headers: Record<string, string> = {};
  if (c.contentType !== null) headers["Content-Type"] = c.contentType;
  const auth = AUTH[c.auth];
  if (auth !== null) headers.Authorization = auth;
  const logMark = fh.logs.mark;
  const request = `${c.verb} /api/${c.route} ${JSON.stringify(headers)} body: ${label}`;
  const fail = (msg: string, res?: { status: number; body: Buffer }): never => {
    throw new Error(`${msg}\n  request: ${request}${res ? `\n  response: ${res.status} ${clip(res.body.toString(), 1000)}` : ""}`);
  };
  fh.stats.add("http.requests");
  let res: Awaited<ReturnType<typeof post>>;
  try {
    // A connection per request: a run must not depend on the state an earlier one left.
    res = await post(`${fh.hub.httpUrl}/api/${c.route}`, payload, headers, false, c.verb, 15_000);
  } catch (err) {
    // The hub may cut an oversize upload short once it has answered 413.
    if (b.kind === "oversize" && /ECONNRESET|EPIPE/.test((err as Error).message)) return void fh.stats.add("http.reset-oversize");
    return fail(`no HTTP answer: ${(err as Error).message}`);
  }
  fh.stats.add(`http.status.${res.status}`);
  const resType = String(res.headers["content-type"] ?? "");
  // The route the hub will take (`_`, `-` dropped, any case), and the outcomes it must have.
  const path = new URL(`/api/${c.route}`, "http://hub").pathname.slice("/api/".length);
  const known = ROUTES.find((r) => r.toLowerCase() === path.replace(/[_-]/g, "").toLowerCase());
  const keyOk = c.auth.startsWith("ok");
  if (res.status === 200) {
    if (!keyOk) fail("answered 200 without the right API key", res);
    if (!known || c.verb !== "POST") fail(`answered 200 to ${c.verb} /api/${c.route}`, res);
    if (resType.startsWith("application/x-protobuf")) {
      try {
        UNARY[known!]!.res.decode(res.body);
      } catch (err) {
        fail(`a 200 protobuf body that does not decode as ${UNARY[known!]!.grpc}Response: ${(err as Error).message}`, res);
      }
    } else {
      let o: unknown;
      try {
        o = JSON.parse(res.body.toString());
      } catch {
        fail("a 200 body that is not JSON", res);
      }
      if (typeof o !== "object" || o === null || Array.isArray(o)) fail("a 200 body that is not a JSON object", res);
      if (known === "broadcast")
        for (const r of (o as any).results ?? [])
          if (r.error && (!ERROR_CODES.has(r.error.code) || r.error.code === ErrorCode.ERROR_CODE_INTERNAL)) fail(`a broadcast result with error ${JSON.stringify(r.error)}`, res);
    }
  } else {
    let o: any;
    try {
      o = JSON.parse(res.body.toString());
    } catch {
      fail(`an error status whose body is not JSON`, res);
    }
    const code = o?.error?.code;
    if (!ERROR_CODES.has(code)) fail(`an error body without an ErrorCode`, res);
    if (code === ErrorCode.ERROR_CODE_INTERNAL) fail(`an internal error (100) answered the request`, res);
    fh.stats.add(`http.error.${code}`);
    // 405, 413 and 415 are HTTP's own statuses (verb, body size, content type); the rest follow the code.
    const own = HTTP_OWN_STATUS[res.status];
    const mapped = expectedHttpStatus(code, o.error.temporary === true);
    if (own !== undefined ? own !== code : mapped !== res.status) fail(`status ${res.status} does not go with error code ${code} (the code's status is ${mapped})`, res);
    // What the request must have led to.
    if (!keyOk && code !== ErrorCode.ERROR_CODE_UNAUTHORIZED) fail(`a request without the right API key must be refused with 101, got ${code}`, res);
    if (keyOk && !known && res.status !== 404) fail(`an unknown method must be 404, got ${res.status}`, res);
    if (keyOk && known && c.verb !== "POST" && res.status !== 405) fail(`${c.verb} must be 405, got ${res.status}`, res);
    const type = (c.contentType ?? "application/json").split(";")[0]!.trim().toLowerCase();
    const typeOk = ["application/json", "application/x-protobuf", "application/protobuf"].includes(type);
    if (keyOk && known && c.verb === "POST" && !typeOk && res.status !== 415) fail(`content type ${JSON.stringify(c.contentType)} must be 415, got ${res.status}`, res);
    if (keyOk && known && c.verb === "POST" && typeOk && b.kind === "oversize" && res.status !== 413) fail(`a body over ${MAX_API_BODY_BYTES} bytes must be 413, got ${res.status}`, res);
  }
  // What the hub accepted, a backend can read back as JSON.
  if (res.status === 200 && (known === "publish" || known === "broadcast")) {
    const binary = resType.startsWith("application/x-protobuf");
    const results = known === "broadcast" ? ((binary ? hub.BroadcastResponse.decode(res.body) : JSON.parse(res.body.toString())).results ?? []) as { channel: string; error?: unknown }[] : [];
    const channels = known === "publish" ? [sentChannel(payload, binary)] : results.filter((r) => !r.error).map((r) => r.channel);
    for (const channel of [...new Set(channels)].slice(0, 3)) {
      const problem = await fh.historyProblem(channel);
      if (problem) fail(problem, res);
    }
  }
  const errors = fh.logs.errorsSince(logMark);
  if (errors.length) fail(`the hub logged at error level during this request:\n${LogCapture.describe(errors)}`, res);
}

/** The channel of an accepted publish request body. */
function sentChannel(payload: Buffer, binary: boolean): string {
  try {
    if (binary) return hub.PublishRequest.decode(payload).channel;
    const o = JSON.parse(payload.toString());
    return typeof o.channel === "string" ? o.channel : "";
  } catch {
    return "";
  }
}
