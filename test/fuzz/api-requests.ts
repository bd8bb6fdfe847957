/**
 * Requests of the server API (HubService), as the HTTP API takes them (proto3 JSON, `data`
 * embedded) and as protobuf bytes (HTTP API and gRPC), with byte-level damage.
 */
import fc from "fast-check";
import * as hub from "../../src/gen/realtime/v1/hub.js";
import { embedJsonIn } from "../../src/protocol/codec.js";
import { b64Payload, channelRef, dataValue, type Fuzzed, offsetValue, Raw, type Resolver, toPlain, weirdString, weirdValue } from "./values.js";

interface Codec {
  fromJSON(o: unknown): unknown;
  encode(m: any): { finish(): Uint8Array };
  decode(b: Uint8Array): unknown;
  toJSON(m: any): unknown;
}

/** The unary methods: HTTP API route name -> gRPC name and codecs. */
export const UNARY: Record<string, { grpc: string; req: Codec; res: Codec }> = {
  publish: { grpc: "Publish", req: hub.PublishRequest, res: hub.PublishResponse },
  broadcast: { grpc: "Broadcast", req: hub.BroadcastRequest, res: hub.BroadcastResponse },
  presence: { grpc: "Presence", req: hub.PresenceRequest, res: hub.PresenceResponse },
  presenceStats: { grpc: "PresenceStats", req: hub.PresenceStatsRequest, res: hub.PresenceStatsResponse },
  history: { grpc: "History", req: hub.HistoryRequest, res: hub.HistoryResponse },
  historyRemove: { grpc: "HistoryRemove", req: hub.HistoryRemoveRequest, res: hub.HistoryRemoveResponse },
  channels: { grpc: "Channels", req: hub.ChannelsRequest, res: hub.ChannelsResponse },
  info: { grpc: "Info", req: hub.InfoRequest, res: hub.InfoResponse },
  disconnect: { grpc: "Disconnect", req: hub.DisconnectRequest, res: hub.DisconnectResponse },
  unsubscribe: { grpc: "Unsubscribe", req: hub.UnsubscribeRequest, res: hub.UnsubscribeResponse },
};

const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { freq: 3, nil: undefined });
const rec = <T extends Record<string, fc.Arbitrary<unknown>>>(r: T) => fc.record(r, { requiredKeys: [] }) as unknown as fc.Arbitrary<Fuzzed>;

/** Users the API may name: the fuzz's own, another, and junk (never the bystander's). */
const user: fc.Arbitrary<Fuzzed> = fc.oneof({ weight: 3, arbitrary: fc.constantFrom<Fuzzed>("fuzz", "fuzz-other", "") }, { weight: 1, arbitrary: weirdString });
const tags: fc.Arbitrary<Fuzzed> = fc.oneof(
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }) as fc.Arbitrary<Fuzzed>,
  weirdValue,
);
const idempotencyKey: fc.Arbitrary<Fuzzed> = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom<Fuzzed>("k".repeat(256), "k".repeat(257), "é".repeat(129), ""),
  weirdValue,
);
const payload = (r: Record<string, fc.Arbitrary<unknown>>) =>
  fc.oneof(
    { weight: 3, arbitrary: rec({ ...r, data: opt(dataValue) }) },
    { weight: 2, arbitrary: rec({ ...r, b64data: opt(b64Payload) }) },
  );

/** A request object per method, fields mostly right, sometimes not. */
export const REQUESTS: Record<string, fc.Arbitrary<Fuzzed>> = {
  publish: fc.tuple(channelRef, payload({ idempotencyKey: opt(idempotencyKey), skipHistory: opt(fc.oneof(fc.boolean(), weirdValue)), tags: opt(tags) })).map(([channel, rest]) => ({ channel, ...(rest as object) })),
  broadcast: fc
    .tuple(
      fc.oneof(
        { weight: 4, arbitrary: fc.array(channelRef, { maxLength: 5 }) },
        { weight: 1, arbitrary: fc.constantFrom(999, 1000, 1001).chain((n) => channelRef.map((c) => Array(n).fill(c) as Fuzzed)) },
        { weight: 1, arbitrary: weirdValue },
      ),
      payload({ idempotencyKey: opt(idempotencyKey), skipHistory: opt(fc.boolean()), tags: opt(tags) }),
    )
    .map(([channels, rest]) => ({ channels, ...(rest as object) })),
  presence: rec({ channel: opt(channelRef) }),
  presenceStats: rec({ channel: opt(channelRef) }),
  history: rec({
    channel: opt(channelRef),
    limit: opt(fc.oneof(fc.integer({ min: -3, max: 60 }), fc.constantFrom<Fuzzed>(2 ** 31 - 1, 2 ** 31, -(2 ** 31), "5", new Raw("1e400")))),
    since: opt(rec({ offset: opt(offsetValue), epoch: opt(weirdString) })),
    reverse: opt(fc.oneof(fc.boolean(), weirdValue)),
  }),
  historyRemove: rec({ channel: opt(channelRef) }),
  channels: rec({ pattern: opt(fc.oneof(fc.constantFrom<Fuzzed>("", "*", "hist:*", "**********", "*a*b*c*d*e*f*", "x".repeat(512), "x".repeat(513)), weirdString)) }),
  info: fc.constantFrom<Fuzzed>({}, { x: 1 }),
  disconnect: rec({ user: opt(user), client: opt(fc.oneof(fc.uuid() as fc.Arbitrary<Fuzzed>, weirdString)), code: opt(fc.oneof(fc.constantFrom<Fuzzed>(0, 3000, 3004, 3500, 3999, 4000, 1000, 1006, 2 ** 32 - 1), weirdValue)), reason: opt(weirdString) }),
  unsubscribe: rec({ user: opt(user), channel: opt(channelRef), client: opt(weirdString) }),
};

/** Byte-level damage to an encoded message. */
export type ByteMutation =
  | { op: "flip"; at: number; bit: number }
  | { op: "truncate"; at: number }
  | { op: "insert"; at: number; bytes: Uint8Array }
  | { op: "append"; bytes: Uint8Array };

export const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({
    op: fc.constant("append" as const),
    bytes: fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 8 }),
      // A length-delimited field claiming far more bytes than follow; a varint of 10 bytes; an end-group.
      fc.constantFrom(Uint8Array.from([0x12, 0xff, 0xff, 0xff, 0xff, 0x0f]), Uint8Array.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), Uint8Array.from([0x0c])),
    ),
  }),
);

export function applyByteMutations(b: Uint8Array, muts: readonly ByteMutation[]): Buffer {
  let out = Buffer.from(b);
  for (const m of muts) {
    if (m.op === "flip") {
      if (out.length) out[m.at % out.length]! ^= 1 << m.bit;
    } else if (m.op === "truncate") out = out.subarray(0, m.at % (out.length + 1));
    else if (m.op === "insert") {
      const at = m.at % (out.length + 1);
      out = Buffer.concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
    } else out = Buffer.concat([out, m.bytes]);
  }
  return out;
}

/** Protobuf bytes that are hard on a decoder rather than just wrong. */
export const hostileBytes: fc.Arbitrary<{ label: string; bytes: Buffer }> = fc.constantFrom(
  { label: "100,000 nested start-groups", bytes: Buffer.alloc(100_000, 0x0b) },
  { label: "20,000 nested start-groups then end-groups", bytes: Buffer.concat([Buffer.alloc(20_000, 0x0b), Buffer.alloc(20_000, 0x0c)]) },
  { label: "a 2 GiB length prefix", bytes: Buffer.from([0x0a, 0x80, 0x80, 0x80, 0x80, 0x08, 0x61]) },
  { label: "an 11-byte varint", bytes: Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]) },
  { label: "field number 0", bytes: Buffer.from([0x00, 0x01]) },
  { label: "wire type 7", bytes: Buffer.from([0x0f, 0x01]) },
  { label: "a 1 MiB string field", bytes: Buffer.concat([Buffer.from([0x0a, 0x80, 0x80, 0x40]), Buffer.alloc(1 << 20, 0x61)]) },
  { label: "10,000 repeated channels of 255 bytes", bytes: Buffer.concat(Array.from({ length: 10_000 }, () => Buffer.concat([Buffer.from([0x0a, 0xff, 0x01]), Buffer.alloc(255, 0x61)]))) },
  { label: "invalid UTF-8 in the channel string", bytes: Buffer.from([0x0a, 0x04, 0xc3, 0x28, 0xff, 0xfe]) },
);

/** The request as proto3 JSON the hub's codecs take (data embedded -> base64), then a message. */
export function toMessage(method: string, value: Fuzzed, r: Resolver): unknown {
  const plain = toPlain(value, r);
  const codec = UNARY[method]!.req;
  if (plain === null || typeof plain !== "object" || Array.isArray(plain)) return codec.fromJSON({});
  embedJsonIn(plain as Record<string, unknown>);
  return codec.fromJSON(plain);
}

/** Protobuf bytes of the request (falling back to an empty message when the value cannot be one). */
export function encodeRequest(method: string, value: Fuzzed, r: Resolver): Buffer {
  const codec = UNARY[method]!.req;
  try {
    return Buffer.from(codec.encode(toMessage(method, value, r)).finish());
  } catch {
    return Buffer.alloc(0);
  }
}
