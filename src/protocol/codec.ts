import { Command, Reply } from "../gen/realtime/v1/client.js";
import { errBadRequest, errMethodNotFound, HubError } from "../errors.js";

/**
 * The JSON client protocol: the proto3 JSON mapping of Command / Reply, except that the
 * bytes fields `data`, `connInfo` and `chanInfo` are embedded as JSON values. Payloads that
 * are not valid JSON (binary, published by a backend) travel as base64 in `b64data`.
 */
const EMBEDDED = new Set(["data", "connInfo", "chanInfo"]);
const B64 = (k: string) => "b64" + k;
const fromB64 = (keys: ReadonlySet<string>, key: string) => (key.startsWith("b64") && keys.has(key.slice(3)) ? key.slice(3) : undefined);

/** A command that failed to decode, with the id it carried when one could be read. */
export class CommandDecodeError extends HubError {
  constructor(
    readonly commandId: number,
    cause: HubError,
  ) {
    super(cause.code, cause.message);
  }
}

/**
 * Deepest nesting of JSON data (publication data, connInfo, chanInfo) the hub embeds as JSON.
 * JSON.stringify recurses and overflows the stack a few thousand levels down (JSON.parse does
 * not), so data nested deeper could be accepted and then never be encoded. Well above what
 * any real payload uses.
 */
export const MAX_DATA_DEPTH = 512;

/**
 * Whether `data`, read as JSON text, opens more than `max` arrays or objects inside each other.
 * A byte scan, no parse: brackets inside strings do not count. Bytes that are not JSON may
 * give any answer; callers that care whether they are JSON check that themselves.
 */
function nestsDeeperThan(data: Uint8Array, max = MAX_DATA_DEPTH): boolean {
  // Every level takes an opening and a closing byte.
  if (data.length <= 2 * max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    if (inString) {
      if (b === 0x5c) i++; // a backslash escapes the next byte (\" is not the end)
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x5b || b === 0x7b) {
      if (++depth > max) return true;
    } else if (b === 0x5d || b === 0x7d) depth--;
  }
  return false;
}

/**
 * Refuses publication data the hub could not deliver: JSON nested deeper than MAX_DATA_DEPTH.
 * Bytes that are not JSON travel as base64 (`b64data`) and are never parsed, so they pass.
 */
export function checkPublicationData(data: Uint8Array): void {
  if (!nestsDeeperThan(data)) return;
  try {
    // Iterative in V8: parsing deep JSON does not overflow the stack, only stringify does.
    JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8"));
  } catch {
    return; // not JSON: delivered as b64data
  }
  throw errBadRequest(`data is JSON nested deeper than ${MAX_DATA_DEPTH} levels: flatten it or send it as binary`);
}

/**
 * base64 (proto3 JSON bytes) -> embedded JSON, or b64 key when the bytes are not JSON. JSON
 * nested too deep to encode again (stored before publish refused it) goes as b64 too, so a
 * reply or push that carries it can always be encoded.
 */
function embedOut(obj: Record<string, unknown>, keys: ReadonlySet<string> = EMBEDDED): void {
  for (const key in obj) {
    const v = obj[key];
    if (key === "tags" || v === null || v === undefined) continue;
    if (keys.has(key) && typeof v === "string") {
      const bytes = Buffer.from(v, "base64");
      try {
        if (nestsDeeperThan(bytes)) throw new RangeError("too deep");
        obj[key] = JSON.parse(bytes.toString("utf8"));
      } catch {
        delete obj[key];
        obj[B64(key)] = v;
      }
    } else if (typeof v === "object") {
      if (Array.isArray(v)) {
        for (const item of v as unknown[]) if (typeof item === "object" && item) embedOut(item as Record<string, unknown>, keys);
      } else embedOut(v as Record<string, unknown>, keys);
    }
  }
}

/** Embedded JSON -> base64 for fromJSON; `b64data` -> `data`. */
function embedIn(obj: Record<string, unknown>, keys: ReadonlySet<string> = EMBEDDED): void {
  for (const key in obj) {
    const v = obj[key];
    if (key === "tags" || v === null || v === undefined) continue;
    const plain = fromB64(keys, key);
    if (keys.has(key)) {
      let text: string;
      try {
        text = JSON.stringify(v);
      } catch (err) {
        if (err instanceof RangeError) throw errBadRequest(`${key} is JSON nested deeper than ${MAX_DATA_DEPTH} levels`);
        throw err;
      }
      obj[key] = Buffer.from(text, "utf8").toString("base64");
    } else if (plain !== undefined) {
      if (typeof v !== "string") throw errBadRequest(`${key} must be a base64 string`);
      obj[plain] = v;
      delete obj[key];
    } else if (typeof v === "object") {
      if (Array.isArray(v)) {
        for (const item of v as unknown[]) if (typeof item === "object" && item) embedIn(item as Record<string, unknown>, keys);
      } else embedIn(v as Record<string, unknown>, keys);
    }
  }
}

const METHODS = [
  "connect",
  "subscribe",
  "unsubscribe",
  "publish",
  "presence",
  "presenceStats",
  "history",
  "rpc",
  "refresh",
  "ping",
  "subRefresh",
] as const;
export type Method = (typeof METHODS)[number];

/** The one method a command carries (exactly one must be set). */
export function methodOf(cmd: Command): Method {
  let found: Method | undefined;
  for (const m of METHODS) {
    if (cmd[m] !== undefined) {
      if (found) throw errBadRequest(`command ${cmd.id} sets both ${found} and ${m}`);
      found = m;
    }
  }
  if (!found) throw errMethodNotFound(`command ${cmd.id} has no known method (known: ${METHODS.join(", ")})`);
  return found;
}

/**
 * Decodes one JSON command. Throws CommandDecodeError (with the id when readable) for
 * malformed JSON, a non-object, a command without an id, or fields of the wrong type.
 */
export function decodeCommand(line: string): Command {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw new CommandDecodeError(0, errBadRequest("malformed JSON"));
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new CommandDecodeError(0, errBadRequest("a command must be a JSON object"));
  const obj = raw as Record<string, unknown>;
  const id = typeof obj.id === "number" && Number.isInteger(obj.id) && obj.id >= 0 ? obj.id : 0;
  if (obj.id !== undefined && obj.id !== id)
    throw new CommandDecodeError(0, errBadRequest("id must be a non-negative integer"));
  // Only `{}` (a pong) goes without an id: the reply to anything else could not be matched.
  if (id === 0 && Object.keys(obj).some((k) => k !== "id"))
    throw new CommandDecodeError(0, errBadRequest("id is required: a positive integer the reply carries back"));
  try {
    embedIn(obj);
    // fromJSON coerces wrong types silently ("x" -> NaN, 5 -> "5"): check them first.
    checkTypes(obj, Command.fromJSON(shape(obj)) as unknown as Record<string, unknown>, "");
    return Command.fromJSON(obj);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new CommandDecodeError(id, errBadRequest(`invalid command: ${msg}`));
  }
}

/** The nested objects of a JSON value without its scalars: decoded, it gives each field's default. */
function shape(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (isObject(v)) out[k] = shape(v);
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

const INTEGER = /^-?\d+$/;

/**
 * Throws unless every field of `obj` has the JSON type its default in `template` (the
 * decoded shape) calls for. 64-bit integers (default "0") may be numbers or digit strings,
 * as proto3 JSON allows; unknown fields and nulls are left to fromJSON (ignored, default).
 */
function checkTypes(obj: Record<string, unknown>, template: Record<string, unknown>, path: string): void {
  for (const [key, value] of Object.entries(obj)) {
    if (value === null || !(key in template)) continue;
    const want = template[key];
    let ok: boolean;
    let expected: string;
    if (want === undefined || isObject(want)) {
      // A message (undefined until set) or a map.
      [ok, expected] = [isObject(value), "an object"];
    } else if (want instanceof Uint8Array) {
      // Bytes: embedded JSON was turned into base64 already.
      [ok, expected] = [typeof value === "string", "a base64 string"];
    } else if (Array.isArray(want)) {
      [ok, expected] = [Array.isArray(value), "a list"];
    } else if (typeof want === "number") {
      [ok, expected] = [Number.isSafeInteger(value) || (typeof value === "string" && INTEGER.test(value)), "an integer"];
    } else if (want === "0") {
      [ok, expected] = [Number.isSafeInteger(value) || (typeof value === "string" && INTEGER.test(value)), "an integer or a string of digits"];
    } else {
      [ok, expected] = [typeof value === typeof want, `a ${typeof want}`];
    }
    if (!ok) throw errBadRequest(`${path}${key} must be ${expected}`);
    if (isObject(value) && isObject(want)) checkTypes(value, want, `${path}${key}.`);
  }
}

/** Splits a frame into its commands (one JSON object per line). */
export function splitFrame(text: string): string[] {
  const lines = text.split("\n");
  const out: string[] = [];
  for (const l of lines) if (l.trim() !== "") out.push(l);
  return out;
}

/** Encodes one Reply as its JSON text. */
export function encodeReply(reply: Reply): string {
  const obj = Reply.toJSON(reply) as Record<string, unknown>;
  embedOut(obj);
  return JSON.stringify(obj);
}


export { embedIn as embedJsonIn, embedOut as embedJsonOut };
