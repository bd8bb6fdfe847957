import { Command, Reply } from "../gen/realtime/v1/client.js";
import { errBadRequest, errMethodNotFound, HubError } from "../errors.js";

/**
 * The JSON client protocol: the proto3 JSON mapping of Command / Reply, except that the
 * bytes fields `data`, `connInfo` and `chanInfo` are embedded as JSON values. Payloads that
 * are not valid JSON (binary, published by a backend) travel as base64 in `b64data`.
 */
const EMBEDDED = new Set(["data", "connInfo", "chanInfo"]);
const B64 = (k: string) => "b64" + k;
const FROM_B64 = new Map([...EMBEDDED].map((k) => [B64(k), k]));

/** A command that failed to decode, with the id it carried when one could be read. */
export class CommandDecodeError extends HubError {
  constructor(
    readonly commandId: number,
    cause: HubError,
  ) {
    super(cause.code, cause.message);
  }
}

/** base64 (proto3 JSON bytes) -> embedded JSON, or b64 key when the bytes are not JSON. */
function embedOut(obj: Record<string, unknown>): void {
  for (const key in obj) {
    const v = obj[key];
    if (key === "tags" || v === null || v === undefined) continue;
    if (EMBEDDED.has(key) && typeof v === "string") {
      const text = Buffer.from(v, "base64").toString("utf8");
      try {
        obj[key] = JSON.parse(text);
      } catch {
        delete obj[key];
        obj[B64(key)] = v;
      }
    } else if (typeof v === "object") {
      if (Array.isArray(v)) for (const item of v) typeof item === "object" && item && embedOut(item);
      else embedOut(v as Record<string, unknown>);
    }
  }
}

/** Embedded JSON -> base64 for fromJSON; `b64data` -> `data`. */
function embedIn(obj: Record<string, unknown>): void {
  for (const key in obj) {
    const v = obj[key];
    if (key === "tags" || v === null || v === undefined) continue;
    if (EMBEDDED.has(key)) {
      obj[key] = Buffer.from(JSON.stringify(v), "utf8").toString("base64");
    } else if (FROM_B64.has(key)) {
      if (typeof v !== "string") throw errBadRequest(`${key} must be a base64 string`);
      obj[FROM_B64.get(key)!] = v;
      delete obj[key];
    } else if (typeof v === "object") {
      if (Array.isArray(v)) for (const item of v) typeof item === "object" && item && embedIn(item);
      else embedIn(v as Record<string, unknown>);
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
 * malformed JSON, a non-object, or fields of the wrong type.
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
  try {
    embedIn(obj);
    return Command.fromJSON(obj);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new CommandDecodeError(id, errBadRequest(`invalid command: ${msg}`));
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

/** JSON object -> bytes for a proto bytes field that must hold JSON (HTTP API, client data). */
export function jsonToBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), "utf8");
}

export { embedIn as embedJsonIn, embedOut as embedJsonOut };
