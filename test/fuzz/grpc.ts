/**
 * gRPC message bytes: arbitrary bytes as the request message of HubService methods (unary,
 * the Subscribe server stream, the PublishStream bidi stream), sent with identity
 * serializers so they go on the wire as they are: encoded requests (of the method or of
 * another), damaged encodings, random bytes and decoder-hostile bytes; with and without the
 * API key. Every call ends with a status in time; our errors carry their ErrorCode.
 */
import fc from "fast-check";
import { Client, credentials, Metadata, status, type ServiceError, type StatusObject } from "@grpc/grpc-js";
import * as hub from "../../src/gen/realtime/v1/hub.js";
import { ErrorCode } from "../../src/gen/realtime/v1/types.js";
import { ERROR_CODE_METADATA } from "../../src/grpc/status.js";
import { ERROR_CODES } from "./codes.js";
import { API_KEY, type FuzzHub, type FuzzRun, LogCapture } from "./harness.js";
import { applyByteMutations, type ByteMutation, byteMutation, encodeRequest, hostileBytes, REQUESTS, toMessage, UNARY } from "./api-requests.js";
import { asText, channelRef, clip, type Fuzzed, weirdValue } from "./values.js";

const SERVICE = "/realtime.v1.HubService/";
const CALL_TIMEOUT_MS = 8000;

type MessageSpec =
  | { kind: "request"; of: string; value: Fuzzed; bytes: ByteMutation[] }
  | { kind: "stream-request"; id: Fuzzed; value: Fuzzed; bytes: ByteMutation[] }
  | { kind: "subscribe-request"; channels: Fuzzed[]; clientOnly: boolean; joinLeave: boolean; bytes: ByteMutation[] }
  | { kind: "random"; bytes: Uint8Array }
  | { kind: "hostile"; hostile: { label: string; bytes: Buffer } };

export interface GrpcCase {
  /** HubService method (or a name the service does not have). */
  method: string;
  auth: "ok" | "none" | "wrong" | "malformed";
  messages: MessageSpec[];
}

const UNARY_NAMES = Object.keys(UNARY);
const bytesMuts = fc.oneof({ weight: 2, arbitrary: fc.constant([] as ByteMutation[]) }, { weight: 2, arbitrary: fc.array(byteMutation, { minLength: 1, maxLength: 4 }) });

const requestOf = (of: string): fc.Arbitrary<MessageSpec> => fc.record({ kind: fc.constant("request" as const), of: fc.constant(of), value: REQUESTS[of]!, bytes: bytesMuts });
const anyRequest = fc.constantFrom(...UNARY_NAMES).chain(requestOf);
const streamRequest: fc.Arbitrary<MessageSpec> = fc.record({
  kind: fc.constant("stream-request" as const),
  id: fc.oneof(fc.nat() as fc.Arbitrary<Fuzzed>, fc.constantFrom<Fuzzed>("18446744073709551615", -1), weirdValue),
  value: REQUESTS.publish!,
  bytes: bytesMuts,
});
const subscribeRequest: fc.Arbitrary<MessageSpec> = fc.record({
  kind: fc.constant("subscribe-request" as const),
  channels: fc.oneof({ weight: 6, arbitrary: fc.array(channelRef, { maxLength: 4 }) }, { weight: 1, arbitrary: fc.constantFrom(1000, 1001).map((n) => Array.from({ length: n }, (_, i) => `hist:s${i}` as Fuzzed)) }),
  clientOnly: fc.boolean(),
  joinLeave: fc.boolean(),
  bytes: bytesMuts,
});
const junk: fc.Arbitrary<MessageSpec> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("random" as const), bytes: fc.uint8Array({ maxLength: 48 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("hostile" as const), hostile: hostileBytes }) },
);

/** For each method: mostly its own requests, sometimes another's, junk. */
const messageFor = (method: string): fc.Arbitrary<MessageSpec> => {
  const own = method === "Subscribe" ? subscribeRequest : method === "PublishStream" ? streamRequest : requestOf(UNARY_NAMES.find((n) => UNARY[n]!.grpc === method) ?? "info");
  return fc.oneof({ weight: 6, arbitrary: own }, { weight: 1, arbitrary: anyRequest }, { weight: 2, arbitrary: junk });
};

const GRPC_METHODS = [...UNARY_NAMES.map((n) => UNARY[n]!.grpc), "Subscribe", "PublishStream"];

export const grpcCase: fc.Arbitrary<GrpcCase> = fc
  .oneof(
    { weight: 20, arbitrary: fc.constantFrom(...GRPC_METHODS) },
    { weight: 1, arbitrary: fc.constantFrom("Nope", "publish", "Publish/x", "") },
  )
  .chain((method) =>
    fc.record({
      method: fc.constant(method),
      auth: fc.oneof({ weight: 20, arbitrary: fc.constant("ok" as const) }, { weight: 1, arbitrary: fc.constantFrom("none" as const, "wrong" as const, "malformed" as const) }),
      messages: method === "PublishStream" ? fc.array(messageFor(method), { minLength: 0, maxLength: 5 }) : messageFor(method).map((m) => [m]),
    }),
  );

function encode(m: MessageSpec, run: FuzzRun): { bytes: Buffer; label: string } {
  switch (m.kind) {
    case "request": {
      const bytes = applyByteMutations(encodeRequest(m.of, m.value, run), m.bytes);
      return { bytes, label: `${UNARY[m.of]!.grpc}Request${m.bytes.length ? " (damaged)" : ""} ${clip(bytes.toString("hex"), 300)}` };
    }
    case "stream-request": {
      let bytes: Buffer;
      try {
        const id = typeof m.id === "number" || typeof m.id === "string" ? String(m.id) : "0";
        bytes = Buffer.from(hub.PublishStreamRequest.encode({ id: /^\d+$/.test(id) ? id : "0", publish: toMessage("publish", m.value, run) as hub.PublishRequest }).finish());
      } catch {
        bytes = Buffer.alloc(0);
      }
      bytes = applyByteMutations(bytes, m.bytes);
      return { bytes, label: `PublishStreamRequest${m.bytes.length ? " (damaged)" : ""} ${clip(bytes.toString("hex"), 300)}` };
    }
    case "subscribe-request": {
      const channels = m.channels.map((c) => toMessageChannel(c, run));
      const bytes = applyByteMutations(Buffer.from(hub.SubscribeRequest.encode({ channels, clientPublicationsOnly: m.clientOnly, joinLeave: m.joinLeave }).finish()), m.bytes);
      return { bytes, label: `SubscribeRequest${m.bytes.length ? " (damaged)" : ""} ${clip(bytes.toString("hex"), 300)}` };
    }
    case "random":
      return { bytes: Buffer.from(m.bytes), label: `random bytes ${Buffer.from(m.bytes).toString("hex")}` };
    case "hostile":
      return { bytes: m.hostile.bytes, label: m.hostile.label };
  }
}

/** A channel as a string field carries it (non-strings as their JSON text). */
function toMessageChannel(c: Fuzzed, run: FuzzRun): string {
  return asText(c, run);
}

const clients = new WeakMap<FuzzHub, Client>();
const identity = (b: Buffer) => b;

/** The gRPC property's body. */
export async function runGrpcCase(fh: FuzzHub, c: GrpcCase): Promise<void> {
  const run = fh.newRun();
  await run.prepare(...c.messages.map((m) => ("value" in m ? m.value : "channels" in m ? m.channels : null)));
  let client = clients.get(fh);
  if (!client) {
    clients.set(fh, (client = new Client(fh.hub.grpcAddr, credentials.createInsecure(), { "grpc.max_send_message_length": -1 })));
    fh.onStop.push(() => client!.close());
  }
  const md = new Metadata();
  if (c.auth === "ok") md.set("authorization", `apikey ${API_KEY}`);
  else if (c.auth === "wrong") md.set("authorization", "apikey nope");
  else if (c.auth === "malformed") md.set("authorization", "Bearer x");
  const msgs = c.messages.map((m) => encode(m, run));
  const path = SERVICE + c.method;
  const logMark = fh.logs.mark;
  const shown = `${path} (auth ${c.auth}) with ${msgs.map((m) => m.label).join("; ") || "no message"}`;
  const fail = (msg: string): never => {
    throw new Error(`${msg}\n  call: ${shown}`);
  };
  fh.stats.add("grpc.calls");
  fh.stats.add("grpc.messages", msgs.length);
  const deadline = Date.now() + CALL_TIMEOUT_MS;
  let st: StatusObject;
  let responses: Buffer[] = [];
  const isUnary = !["Subscribe", "PublishStream"].includes(c.method);
  if (isUnary) {
    st = await new Promise<StatusObject>((resolve) => {
      client.makeUnaryRequest(path, identity, identity, msgs[0]!.bytes, md, { deadline }, (err: ServiceError | null, res?: Buffer) => {
        if (res) responses = [res];
        resolve(err ? { code: err.code, details: err.details, metadata: err.metadata } : { code: status.OK, details: "", metadata: new Metadata() });
      });
    });
  } else if (c.method === "Subscribe") {
    const call = client.makeServerStreamRequest(path, identity, identity, msgs[0]!.bytes, md, { deadline });
    call.on("data", (b: Buffer) => responses.push(b));
    call.on("error", () => undefined);
    // Headers come once the subscription is in place; a refused one ends with a status instead.
    const first = await new Promise<"metadata" | StatusObject>((resolve) => {
      call.once("metadata", () => resolve("metadata"));
      call.once("status", (s: StatusObject) => resolve(s));
    });
    if (first === "metadata") {
      call.cancel();
      st = await new Promise<StatusObject>((resolve) => call.once("status", resolve));
      if (st.code !== status.CANCELLED) fail(`a Subscribe stream cancelled by the client ended with ${status[st.code]} ${st.details}`);
      fh.stats.add("grpc.subscribe.ok");
    } else st = first;
  } else {
    const call = client.makeBidiStreamRequest(path, identity, identity, md, { deadline });
    call.on("data", (b: Buffer) => responses.push(b));
    call.on("error", () => undefined);
    const ended = new Promise<StatusObject>((resolve) => call.once("status", resolve));
    for (const m of msgs) call.write(m.bytes);
    call.end();
    st = await ended;
  }
  fh.stats.add(`grpc.status.${status[st.code]}`);
  if (st.code === status.DEADLINE_EXCEEDED) fail(`no answer within ${CALL_TIMEOUT_MS} ms`);
  if (st.code === status.UNKNOWN) fail(`status UNKNOWN (${st.details}): a handler failed without a status`);
  const ours = st.metadata?.get(ERROR_CODE_METADATA)[0];
  if (ours !== undefined) {
    const code = Number(ours);
    if (!ERROR_CODES.has(code)) fail(`${ERROR_CODE_METADATA} ${ours} is not an ErrorCode`);
    if (code === ErrorCode.ERROR_CODE_INTERNAL) fail(`an internal error (100) answered the call: ${status[st.code]} ${st.details}`);
    fh.stats.add(`grpc.error.${code}`);
  } else if (st.code === status.INTERNAL && !/deseriali|pars|decod|message/i.test(st.details)) fail(`INTERNAL without our error code: ${st.details}`);
  const known = GRPC_METHODS.includes(c.method);
  if (!known && st.code !== status.UNIMPLEMENTED) fail(`a method HubService does not have answered ${status[st.code]}, not UNIMPLEMENTED`);
  // grpc-js decodes a unary or server-stream request before the handler checks the key.
  const undecodable = st.code === status.INTERNAL && ours === undefined;
  if (known && c.auth !== "ok" && st.code !== status.UNAUTHENTICATED && !undecodable)
    fail(`a call without the right API key answered ${status[st.code]} ${st.details}, not UNAUTHENTICATED`);
  if (known && c.auth !== "ok" && responses.length) fail(`a call without the right API key got ${responses.length} response(s)`);
  if (st.code === status.OK && isUnary) {
    const name = UNARY_NAMES.find((n) => UNARY[n]!.grpc === c.method)!;
    try {
      UNARY[name]!.res.decode(responses[0]!);
    } catch (err) {
      fail(`the response does not decode as ${c.method}Response: ${(err as Error).message}`);
    }
  }
  if (c.method === "PublishStream" && st.code === status.OK) {
    if (responses.length !== msgs.length) fail(`${msgs.length} messages on PublishStream, ${responses.length} acks`);
    for (const r of responses) {
      const ack = hub.PublishStreamResponse.decode(r);
      if (ack.error && (!ERROR_CODES.has(ack.error.code) || ack.error.code === ErrorCode.ERROR_CODE_INTERNAL)) fail(`a PublishStream ack with error ${JSON.stringify(ack.error)}`);
    }
  }
  // What the hub accepted, a backend can read back as JSON (a publication stored in history
  // that cannot be encoded would break recovery for its channel).
  if (st.code === status.OK && ["Publish", "Broadcast", "PublishStream"].includes(c.method))
    for (const channel of publishedChannels(c.method, msgs.map((m) => m.bytes)).slice(0, 3)) {
      const problem = await fh.historyProblem(channel);
      if (problem) fail(problem);
    }
  const errors = fh.logs.errorsSince(logMark);
  if (errors.length) fail(`the hub logged at error level during this call:\n${LogCapture.describe(errors)}`);
}

/** The channels the (accepted, so decodable) publish messages named. */
function publishedChannels(method: string, messages: Buffer[]): string[] {
  try {
    if (method === "Publish") return [hub.PublishRequest.decode(messages[0]!).channel];
    if (method === "Broadcast") return [...new Set(hub.BroadcastRequest.decode(messages[0]!).channels)];
    return [...new Set(messages.map((m) => hub.PublishStreamRequest.decode(m).publish?.channel ?? ""))];
  } catch {
    return [];
  }
}
