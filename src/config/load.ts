import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { parseArgv, type FlagKind } from "./argv.js";
import { ConfigError } from "./config-error.js";
import { coerce } from "./kinds.js";
import { envName, kebab } from "./names.js";
import {
  CONFIG_FILE_KEY,
  defaultConfig,
  defaultNamespace,
  devOverrides,
  MERCURE_NAMESPACE,
  mercureNamespace,
  NAMESPACE_SETTINGS,
  namespaceSettingOf,
  SETTINGS,
  settingOf,
  type Config,
  type NamespaceOptions,
} from "./settings.js";
import { validateConfig } from "./validate.js";

function parseNamespace(where: string, raw: unknown, base: NamespaceOptions): NamespaceOptions {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new ConfigError(`${where}: must be an object`);
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(raw)) {
    const s = namespaceSettingOf(k);
    if (!s) throw new ConfigError(`${where}.${k}: unknown key (known: ${Object.keys(NAMESPACE_SETTINGS).join(", ")})`);
    out[k] = coerce(`${where}.${k}`, s.kind, v);
  }
  return out as NamespaceOptions;
}

/** Reads a YAML or JSON config file into a partial config, naming any bad key. */
function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`config file ${path}: cannot read it`, { cause: err });
  }
  let data: unknown;
  try {
    data = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config file ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (data == null) return {};
  if (typeof data !== "object" || Array.isArray(data)) throw new ConfigError(`config file ${path}: must hold a mapping`);
  return data as Record<string, unknown>;
}

/** The flags of `serve`: --config and one per setting (booleans may stand alone). */
const SERVE_FLAGS: Record<string, FlagKind> = {
  [CONFIG_FILE_KEY]: "string",
  ...Object.fromEntries(Object.entries(SETTINGS).map(([k, s]) => [k, s.kind === "boolean" ? "boolean" : "string"])),
};

/** Splits `serve` flags (`--key value`, `--key=value`, bare booleans) into key/value pairs. */
export function parseFlags(argv: string[]): Record<string, string | boolean> {
  return parseArgv(argv, SERVE_FLAGS) as Record<string, string | boolean>;
}

/**
 * Builds the one config object: flags > env > file > (--dev overrides) > defaults.
 * Throws a ConfigError that names the bad key.
 */
export function loadConfig(sources: {
  flags?: Record<string, string | boolean>;
  env?: Record<string, string | undefined>;
  file?: Record<string, unknown>;
  overrides?: Partial<Config>;
}): Config {
  const flags = sources.flags ?? {};
  const env = sources.env ?? {};
  const file = { ...(sources.file ?? {}) };
  const configPath = (flags[CONFIG_FILE_KEY] as string | undefined) ?? env[envName(CONFIG_FILE_KEY)];
  if (configPath) Object.assign(file, readConfigFile(configPath), sources.file ?? {});

  const scalars: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(file)) {
    if (k === "namespaces" || k === "channelDefaults") continue;
    const s = settingOf(k);
    if (!s) throw new ConfigError(`config file: unknown key ${JSON.stringify(k)}`);
    scalars[k] = coerce(`config file: ${k}`, s.kind, v);
  }
  for (const [k, s] of Object.entries(SETTINGS)) {
    const v = env[envName(k)];
    if (v !== undefined && v !== "") scalars[k] = coerce(envName(k), s.kind, v);
  }
  for (const [k, v] of Object.entries(flags)) {
    if (k === CONFIG_FILE_KEY) continue;
    const s = settingOf(k);
    if (!s) throw new ConfigError(`unknown flag --${kebab(k)}`);
    scalars[k] = coerce(`--${kebab(k)}`, s.kind, v);
  }

  const dev = Boolean(scalars.dev ?? sources.overrides?.dev ?? false);
  const cfg: Config = { ...defaultConfig(), ...(dev ? devOverrides() : {}), ...sources.overrides };
  Object.assign(cfg, scalars);
  cfg.dev = dev;
  // A Redis broker makes the node stateless: presence and history follow it unless set.
  if (cfg.broker === "redis") {
    if (scalars.presence === undefined && sources.overrides?.presence === undefined) cfg.presence = "redis";
    if (scalars.history === undefined && sources.overrides?.history === undefined) cfg.history = "redis";
  }
  if (file.channelDefaults !== undefined)
    cfg.channelDefaults = parseNamespace("config file: channelDefaults", file.channelDefaults, cfg.channelDefaults);
  if (file.namespaces !== undefined) {
    if (!Array.isArray(file.namespaces)) throw new ConfigError("config file: namespaces must be a list");
    cfg.namespaces = file.namespaces.map((ns, i) =>
      parseNamespace(`config file: namespaces[${i}]`, ns, defaultNamespace()),
    );
  }
  if (cfg.mercure && !cfg.namespaces.some((ns) => ns.name === MERCURE_NAMESPACE)) cfg.namespaces = [...cfg.namespaces, mercureNamespace(cfg.dev)];
  validateConfig(cfg);
  return cfg;
}
