/**
 * Building blocks shared by the fuzz properties: symbolic channel and token names (made
 * concrete per run, so runs do not share state and a failing run replays alone), raw JSON
 * text (numbers JSON.stringify cannot write, nesting it cannot reach), weird values, and a
 * serializer that understands both.
 */
import fc from "fast-check";

/** The fuzzed hub's channels, by role. Made concrete per run with a salt (see FuzzRun.channel). */
export const CHANNELS = [
  "hist:a", // history 50, client publish, presence, join/leave
  "hist:b",
  "priv:x", // private: subscription token required; publish after subscribing
  "priv:y",
  "plain", // no namespace: channelDefaults (nothing allowed, no history)
  "nope:z", // unknown namespace: 102
] as const;

/** Connection tokens, minted once per hub (see FuzzHub.connectTokens). */
export const CONNECT_TOKENS = [
  "valid",
  "valid-noexp",
  "valid-info",
  "other-user",
  "expired",
  "wrong-secret",
  "alg-none",
  "no-sub",
  "empty-sub",
  "garbage",
  "empty",
] as const;
export type ConnectTokenName = (typeof CONNECT_TOKENS)[number];

/** Subscription tokens, minted per run for that run's private channels. */
const SUB_TOKENS = ["sub:priv:x", "sub:priv:y", "sub-expired:priv:x", "sub-other-user:priv:x", "sub-wrong-secret:priv:x"] as const;
export type SubTokenName = (typeof SUB_TOKENS)[number];

/**
 * A reference to a channel or token of the run, printed as «channel:hist:a» in reports; or to
 * a stream position the run learned (WebSocket): «epoch:hist:a», «offset:hist:a|-1» (the last
 * offset seen in hist:a, minus one), so recovery is asked for with positions that exist.
 */
export class Sym {
  constructor(
    readonly kind: "channel" | "token" | "epoch" | "offset",
    readonly name: string,
  ) {}
  [fc.toStringMethod](): string {
    return `«${this.kind}:${this.name}»`;
  }
}

/** JSON text inserted as is (huge numbers, deep nesting, duplicate keys...). */
export class Raw {
  constructor(readonly text: string) {}
  [fc.toStringMethod](): string {
    return this.text.length > 80 ? `Raw(${JSON.stringify(this.text.slice(0, 40))}…${this.text.length} chars)` : `Raw(${JSON.stringify(this.text)})`;
  }
}

/** A long run of one character, printed short. */
export class Filler {
  constructor(
    readonly char: string,
    readonly length: number,
  ) {}
  toString(): string {
    return this.char.repeat(this.length);
  }
  [fc.toStringMethod](): string {
    return `${JSON.stringify(this.char)}×${this.length}`;
  }
}

/** Base64 of some bytes, printed as what they are. */
export class B64 {
  constructor(
    readonly label: string,
    readonly value: string,
  ) {}
  [fc.toStringMethod](): string {
    return `base64(${this.label})`;
  }
}

export type Fuzzed = null | boolean | number | string | Sym | Raw | Filler | B64 | Fuzzed[] | { [k: string]: Fuzzed };

/** `depth` levels of `open` closed again: [[[...]]] or {"a":{"a":...}}. */
function nestedText(kind: "array" | "object", depth: number, inner = "1"): string {
  return kind === "array" ? "[".repeat(depth) + inner + "]".repeat(depth) : '{"a":'.repeat(depth) + inner + "}".repeat(depth);
}

const HUGE_NUMBER_TEXTS = [
  "1e400",
  "-1e400",
  "1e-400",
  "123456789012345678901234567890",
  "18446744073709551615",
  "18446744073709551616",
  "9007199254740993",
  "-9223372036854775809",
  "4294967295",
  "4294967296",
  "2147483648",
  "-2147483649",
  "-0",
  "0.1e1",
  "1E+2",
] as const;

const hugeNumber: fc.Arbitrary<Raw> = fc.constantFrom(...HUGE_NUMBER_TEXTS).map((t) => new Raw(t));

/** Deep nesting as raw text; the largest ones only fit a frame as arrays. */
export const deepNesting: fc.Arbitrary<Raw> = fc
  .tuple(fc.constantFrom("array" as const, "object" as const), fc.constantFrom(64, 500, 3000, 10_000, 20_000))
  .map(([kind, depth]) => new Raw(nestedText(kind === "object" && depth > 10_000 ? "array" : kind, depth)));

const SPECIAL_STRINGS = [
  "",
  " ",
  "0",
  "-1",
  "null",
  "true",
  "\u0000",
  "\ud800",
  "a\udfffb",
  "\u2028\u2029",
  "\ufeff",
  "💥",
  "é",
  "\r\n",
  "%00",
  "../../etc/passwd",
  "__proto__",
  "constructor",
  "hist:a",
  "*",
  "\\",
] as const;

/** Strings that are not where a well-formed client would put them. */
export const weirdString: fc.Arbitrary<string | Filler> = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...SPECIAL_STRINGS) },
  { weight: 9, arbitrary: fc.string({ unit: "grapheme", maxLength: 24 }) },
  { weight: 6, arbitrary: fc.string({ unit: "binary", maxLength: 24 }) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom("x", "é", "💥", "\\", '"'), fc.constantFrom(257, 4096, 12_000)).map(([c, n]) => new Filler(c, n)) },
);

/** A value of any JSON type, often the wrong one for where it goes. */
export const weirdValue: fc.Arbitrary<Fuzzed> = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom<Fuzzed>(null, true, false, 0, -1, 1.5, -2147483649, 2 ** 32, 2 ** 53, 1e308, [], {}, [1, "a"], { a: 1 }) },
  { weight: 9, arbitrary: weirdString },
  { weight: 6, arbitrary: hugeNumber },
  { weight: 6, arbitrary: fc.integer() },
  { weight: 3, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Fuzzed> },
  { weight: 1, arbitrary: deepNesting },
);

/** Bytes that may or may not be JSON, base64-encoded (`b64data`), with labels for reports. */
export const b64Payload: fc.Arbitrary<B64 | string | Filler> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => new B64(`json ${JSON.stringify(v).slice(0, 40)}`, Buffer.from(JSON.stringify(v)).toString("base64"))) },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => new B64(`${b.length} random bytes`, Buffer.from(b).toString("base64"))) },
  // Nested JSON the hub can parse but not re-encode to its JSON protocol (known defect: history).
  {
    weight: 1,
    arbitrary: fc.constantFrom(1000, 10_000).map((d) => new B64(`JSON nested ${d} deep`, Buffer.from(nestedText("array", d)).toString("base64"))),
  },
  // Not base64 at all, or base64 of odd lengths, or with whitespace and url-safe characters.
  { weight: 2, arbitrary: fc.constantFrom("!!!", "====", "a", "ab=", "YQ", "Y Q = =", "-_-_", "eyJ", "%%%%", "\u00e9\u00e9", "AAAA\nAAAA") },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.constantFrom(new Filler("A", 40_000), new Filler("/", 1000)) },
);

/** JSON-ish payloads for `data` fields (embedded JSON in the client protocol and HTTP API). */
export const dataValue: fc.Arbitrary<Fuzzed> = fc.oneof(
  { weight: 18, arbitrary: fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Fuzzed> },
  { weight: 6, arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }) },
  { weight: 3, arbitrary: hugeNumber },
  { weight: 1, arbitrary: deepNesting },
  { weight: 1, arbitrary: fc.constantFrom<Fuzzed>({ big: new Filler("x", 30_000) }, [new Filler("é", 8000)]) },
);

/** 64-bit offsets as clients send them: numbers, digit strings, and everything else. */
export const offsetValue: fc.Arbitrary<Fuzzed> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<Fuzzed>("0", "1", "2", 0, 1, 3, "50") },
  { weight: 2, arbitrary: fc.constantFrom<Fuzzed>("18446744073709551615", "18446744073709551616", "99999999999999999999999", "-1", -1, 1.5, "1e3", "0x10", " 1", "") },
  { weight: 1, arbitrary: hugeNumber },
  { weight: 1, arbitrary: weirdValue },
);

export const channelRef: fc.Arbitrary<Fuzzed> = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...CHANNELS).map((c) => new Sym("channel", c)) },
  {
    weight: 2,
    arbitrary: fc.constantFrom<Fuzzed>("", " ", "a b", "hist:", ":", "hist:a\n", "hist:💥", "hist:é", "priv:", "nope:", ":::", "$", new Filler("c", 256), new Filler("c", 255), "hist:" + "a".repeat(250)),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: weirdValue },
);

export const connectTokenRef: fc.Arbitrary<Sym> = fc.constantFrom(...CONNECT_TOKENS).map((t) => new Sym("token", t));
export const subTokenRef: fc.Arbitrary<Sym> = fc.constantFrom(...SUB_TOKENS).map((t) => new Sym("token", t));
export const tokenRef: fc.Arbitrary<Fuzzed> = fc.oneof(
  { weight: 4, arbitrary: connectTokenRef },
  { weight: 4, arbitrary: subTokenRef },
  { weight: 1, arbitrary: weirdValue },
);

/** Resolves the symbols of a run. */
export interface Resolver {
  channel(name: string): string;
  token(name: string): string;
  /** The epoch last seen in a channel ("" when none). */
  epoch?(channel: string): string;
  /** The offset last seen in a channel plus a delta ("channel|delta"), as digits. */
  offset?(spec: string): string;
}

function resolve(v: Sym, r: Resolver): string {
  switch (v.kind) {
    case "channel":
      return r.channel(v.name);
    case "token":
      return r.token(v.name);
    case "epoch":
      return r.epoch?.(v.name) ?? "";
    case "offset":
      return r.offset?.(v.name) ?? "0";
  }
}

/** Collects the token names a value refers to (they may need minting first). */
export function tokensIn(v: Fuzzed, out: Set<string> = new Set()): Set<string> {
  if (v instanceof Sym) {
    if (v.kind === "token") out.add(v.name);
  } else if (Array.isArray(v)) for (const x of v) tokensIn(x, out);
  else if (v && typeof v === "object" && !(v instanceof Raw) && !(v instanceof Filler) && !(v instanceof B64))
    for (const x of Object.values(v)) tokensIn(x, out);
  return out;
}

/** JSON text of a fuzzed value, symbols resolved; Raw inserted as is. */
export function toJsonText(v: Fuzzed, r: Resolver): string {
  if (v instanceof Sym) return JSON.stringify(resolve(v, r));
  if (v instanceof Raw) return v.text;
  if (v instanceof Filler) return JSON.stringify(v.toString());
  if (v instanceof B64) return JSON.stringify(v.value);
  if (Array.isArray(v)) return "[" + v.map((x) => toJsonText(x, r)).join(",") + "]";
  if (v !== null && typeof v === "object")
    return "{" + Object.entries(v).map(([k, x]) => JSON.stringify(k) + ":" + toJsonText(x, r)).join(",") + "}";
  return JSON.stringify(v) ?? "null";
}

/** The same value as a plain JS value (Raw parsed when it can be; left as its text otherwise). */
export function toPlain(v: Fuzzed, r: Resolver): unknown {
  if (v instanceof Sym) return resolve(v, r);
  if (v instanceof Raw) {
    try {
      return JSON.parse(v.text);
    } catch {
      return v.text;
    }
  }
  if (v instanceof Filler) return v.toString();
  if (v instanceof B64) return v.value;
  if (Array.isArray(v)) return v.map((x) => toPlain(x, r));
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toPlain(x, r)]));
  return v;
}

/** A string or filler as text (channel names may be fillers). */
export function asText(v: Fuzzed, r: Resolver): string {
  if (typeof v === "string") return v;
  if (v instanceof Filler) return v.toString();
  if (v instanceof Sym) return resolve(v, r);
  return toJsonText(v, r);
}

/**
 * A mutation of a JSON object, chosen by fast-check as plain data (so it shrinks): the node
 * it applies to is picked by `at` among the object's nodes in a fixed walk order.
 */
export type Mutation =
  | { op: "set"; at: number; value: Fuzzed }
  | { op: "delete"; at: number }
  | { op: "add"; at: number; key: string; value: Fuzzed }
  | { op: "nest"; at: number; depth: number };

const FIELD_NAMES = [
  "id",
  "channel",
  "token",
  "data",
  "b64data",
  "recover",
  "epoch",
  "offset",
  "limit",
  "since",
  "reverse",
  "method",
  "connect",
  "subscribe",
  "publish",
  "history",
  "ping",
  "presence",
  "presenceStats",
  "presence_stats",
  "rpc",
  "refresh",
  "unsubscribe",
  "channels",
  "idempotencyKey",
  "skipHistory",
  "tags",
  "pattern",
  "user",
  "client",
  "code",
  "reason",
  "__proto__",
  "constructor",
  "toString",
];

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant("set" as const), at: fc.nat(), value: weirdValue }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("delete" as const), at: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("add" as const),
      at: fc.nat(),
      key: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...FIELD_NAMES) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }),
      value: weirdValue,
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("nest" as const), at: fc.nat(), depth: fc.constantFrom(2, 50, 2000) }) },
);

type Node = { parent: Record<string, Fuzzed> | Fuzzed[]; key: string | number; value: Fuzzed };

/**
 * The object and array members of `root`, depth first, except the root's `id` (weird ids
 * come from the id generator, at a rate that keeps most lines answerable).
 */
function members(root: Fuzzed): Node[] {
  const out: Node[] = [];
  const walk = (v: Fuzzed) => {
    if (Array.isArray(v))
      v.forEach((x, i) => {
        out.push({ parent: v, key: i, value: x });
        walk(x);
      });
    else if (isPlainObject(v))
      for (const [k, x] of Object.entries(v)) {
        if (!(v === root && k === "id")) out.push({ parent: v, key: k, value: x });
        walk(x);
      }
  };
  walk(root);
  return out;
}

function isPlainObject(v: Fuzzed): v is { [k: string]: Fuzzed } {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Sym) && !(v instanceof Raw) && !(v instanceof Filler) && !(v instanceof B64);
}

function clone(v: Fuzzed): Fuzzed {
  if (Array.isArray(v)) return v.map(clone);
  if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)]));
  return v;
}

/** Applies mutations to a copy of `obj`. */
export function mutate(obj: Fuzzed, muts: readonly Mutation[]): Fuzzed {
  const root = clone(obj);
  for (const m of muts) {
    const nodes = members(root);
    if (m.op === "add") {
      const containers = [root, ...nodes.map((n) => n.value)].filter(isPlainObject);
      const target = containers[m.at % containers.length];
      // Copies: generated values may be shared (constantFrom), and must never change.
      if (target) Object.defineProperty(target, m.key, { value: clone(m.value), enumerable: true, writable: true, configurable: true });
      continue;
    }
    if (nodes.length === 0) continue;
    const n = nodes[m.at % nodes.length]!;
    if (m.op === "set") (n.parent as any)[n.key] = clone(m.value);
    else if (m.op === "delete") {
      if (Array.isArray(n.parent)) n.parent.splice(n.key as number, 1);
      else delete n.parent[n.key as string];
    } else {
      const inner = toJsonText(n.value, { channel: (c) => `@${c}`, token: (t) => `@${t}` });
      // Nesting wraps symbols too: keep them resolvable by nesting only symbol-free values.
      if (/«|@/.test(inner) || n.value instanceof Sym) continue;
      (n.parent as any)[n.key] = new Raw(nestedText("array", m.depth, inner));
    }
  }
  return root;
}

/** Text-level damage to a JSON line. */
export type TextMutation =
  | { op: "truncate"; at: number }
  | { op: "insert"; at: number; text: string }
  | { op: "duplicate-key"; key: string; value: string }
  | { op: "wrap"; prefix: string; suffix: string };

export const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("insert" as const),
      at: fc.nat(),
      text: fc.oneof(fc.constantFrom(",", "}", "{", '"', "\\", "\n", "\u0000", " ", "]", ":", "\ud800", "\\u0000", "/*x*/"), fc.string({ maxLength: 4 })),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("duplicate-key" as const),
      key: fc.constantFrom("id", "ping", "publish", "connect", "subscribe", "channel"),
      value: fc.constantFrom("1", "0", "-1", '"x"', "null", "{}", '{"channel":"plain"}', "1e400", "[]"),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("wrap" as const),
      prefix: fc.constantFrom("[", " ", "\t", "\ufeff", "x", "{}", "\r"),
      suffix: fc.constantFrom("]", " ", "\t", "\r", ",", "}", "x"),
    }),
  },
);

export function applyTextMutation(text: string, m: TextMutation | null): string {
  if (!m) return text;
  switch (m.op) {
    case "truncate":
      return text.slice(0, m.at % Math.max(1, text.length));
    case "insert": {
      const at = m.at % (text.length + 1);
      return text.slice(0, at) + m.text + text.slice(at);
    }
    case "duplicate-key":
      // Right after the opening brace: a key that also appears later (JSON.parse keeps the last).
      return text.startsWith("{") ? `{${JSON.stringify(m.key)}:${m.value},${text.slice(1)}` : text;
    case "wrap":
      return m.prefix + text + m.suffix;
  }
}

/** Shortens long text for reports. */
export function clip(s: string, max = 300): string {
  return s.length <= max ? s : `${s.slice(0, max)}…(${s.length} chars)`;
}
