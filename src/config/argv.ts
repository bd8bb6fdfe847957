import { ConfigError } from "./config-error.js";
import { kebab } from "./names.js";

/** A string flag takes a value; a boolean flag may stand alone. */
export type FlagKind = "string" | "boolean";

/** What parseArgv found: text for a string flag, text or true for a boolean one. */
export type ParsedFlags<S> = { -readonly [P in keyof S]?: S[P] extends "string" ? string : string | boolean };

/**
 * Splits command-line flags by a spec of camelCase keys, each flag being its key in
 * kebab-case: `--key value`, `--key=value`, and for a boolean flag a bare `--key` (true) or
 * `--key true|false` (what scripts and compose files tend to write). Values stay text; the
 * caller checks their kind. Throws a ConfigError for a stray argument, an unknown flag or a
 * flag without its value, prefixed with `command: ` when given.
 */
export function parseArgv<const S extends Readonly<Record<string, FlagKind>>>(
  argv: readonly string[],
  spec: S,
  command?: string,
): ParsedFlags<S> {
  const fail = (message: string): never => {
    throw new ConfigError(command ? `${command}: ${message}` : message);
  };
  const byFlag = new Map(Object.keys(spec).map((k) => [kebab(k), k]));
  const out: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) fail(`unexpected argument ${JSON.stringify(arg)}`);
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const key = byFlag.get(name) ?? fail(`unknown flag --${name}`);
    if (eq >= 0) out[key] = arg.slice(eq + 1);
    else if (spec[key] === "boolean") {
      const next = argv[i + 1];
      out[key] = next === "true" || next === "false" ? argv[++i]! : true;
    } else out[key] = argv[++i] ?? fail(`flag --${name} needs a value`);
  }
  return out as ParsedFlags<S>;
}
