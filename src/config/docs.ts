import type { Kind } from "./kinds.js";
import { envName, kebab } from "./names.js";
import { CONFIG_FILE_KEY, devOverrides, NAMESPACE_SETTINGS, SETTINGS, type Setting } from "./settings.js";

/** One row of the docs (`realtime-hub help`, the README's configuration table). */
export interface SettingDoc {
  key: string;
  flag: string;
  env: string;
  /** What the flag takes, for `help`: N, VALUE, FILE, a|b|c, or nothing for a boolean. */
  arg: string;
  /** The default as text; a setting --dev changes says so. */
  default: string;
  doc: string;
}

const argOf = (kind: Kind) => (typeof kind !== "string" ? kind.join("|") : kind === "number" ? "N" : kind === "string" ? "VALUE" : "");

function docOf(key: string, s: Setting, dev: Record<string, unknown>): SettingDoc {
  let text = s.defaultText ?? (s.default === "" ? "none" : String(s.default));
  if (Object.hasOwn(dev, key)) text += ` (--dev: ${String(dev[key])})`;
  return { key, flag: `--${kebab(key)}`, env: envName(key), arg: argOf(s.kind), default: text, doc: s.doc };
}

/** The rows of the docs, in order: `--config` first, then every setting of SETTINGS. */
export function settingDocs(): SettingDoc[] {
  const dev = devOverrides() as Record<string, unknown>;
  const config: SettingDoc = {
    key: CONFIG_FILE_KEY,
    flag: `--${kebab(CONFIG_FILE_KEY)}`,
    env: envName(CONFIG_FILE_KEY),
    arg: "FILE",
    default: "none",
    doc: "config file (YAML or JSON): every setting below by its camelCase key, plus `namespaces` and `channelDefaults`",
  };
  return [config, ...Object.entries(SETTINGS).map(([key, s]) => docOf(key, s as Setting, dev))];
}

/** The options of a namespace (config file only: `channelDefaults` and each of `namespaces`). */
export function namespaceDocs(): SettingDoc[] {
  return Object.entries(NAMESPACE_SETTINGS).map(([key, s]) => docOf(key, s as Setting, {}));
}

/** The README's configuration table, line by line (readme.test.ts holds the README to it). */
export function readmeTable(): string[] {
  return [
    "| flag | env | default | what |",
    "| --- | --- | --- | --- |",
    ...settingDocs().map((d) => `| \`${d.flag}\` | \`${d.env}\` | ${d.default} | ${d.doc} |`),
  ];
}

const plain = (doc: string) => doc.replaceAll("`", "");
const withArg = (name: string, arg: string) => (arg ? `${name} ${arg}` : name);

/** The settings part of `realtime-hub help`: every flag with its env var, default and doc. */
export function helpText(): string {
  const flags = settingDocs().map((d) => `  ${withArg(d.flag, d.arg)}  [${d.env}]  default: ${d.default}\n      ${plain(d.doc)}`);
  const ns = namespaceDocs().map((d) => `  ${d.key}: ${d.arg || "true|false"}  default: ${d.default}\n      ${plain(d.doc)}`);
  return [
    "serve flags (each also as its env var, and as a camelCase key in the --config file):",
    ...flags,
    "",
    "Config file only: channelDefaults (options of channels without a namespace, and of unknown",
    "ones with --allow-unknown-namespaces) and namespaces (a list, each with its name) take:",
    ...ns,
  ].join("\n");
}
