import { ConfigError } from "./config-error.js";

/** What a setting holds: text, a non-negative number, a boolean, or one of a list of words. */
export type Kind = "string" | "number" | "boolean" | readonly string[];

/** The TypeScript type of a kind's values (an enum list gives the union of its words). */
export type Value<K> = K extends "string"
  ? string
  : K extends "number"
    ? number
    : K extends "boolean"
      ? boolean
      : K extends readonly (infer E)[]
        ? E
        : never;

/**
 * Turns a raw value (flag or env text, or what YAML/JSON gave) into one of the kind, or throws
 * a ConfigError that starts with `where` (the flag, env var or file key).
 */
export function coerce<K extends Kind>(where: string, kind: K, raw: unknown): Value<K>;
export function coerce(where: string, kind: Kind, raw: unknown): unknown {
  if (typeof kind !== "string") {
    if (typeof raw !== "string" || !kind.includes(raw))
      throw new ConfigError(`${where}: must be one of ${kind.join(", ")}, got ${JSON.stringify(raw)}`);
    return raw;
  }
  switch (kind) {
    case "string":
      if (typeof raw === "number") return String(raw);
      if (typeof raw !== "string") throw new ConfigError(`${where}: must be a string`);
      return raw;
    case "number": {
      const n = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
      if (typeof n !== "number" || !Number.isFinite(n) || n < 0)
        throw new ConfigError(`${where}: must be a non-negative number, got ${JSON.stringify(raw)}`);
      return n;
    }
    case "boolean":
      if (typeof raw === "boolean") return raw;
      if (raw === "true" || raw === "1" || raw === "yes") return true;
      if (raw === "false" || raw === "0" || raw === "no") return false;
      throw new ConfigError(`${where}: must be true or false, got ${JSON.stringify(raw)}`);
  }
}
