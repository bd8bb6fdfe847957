/**
 * The hub's configuration: one table of settings (config/settings.ts) gives the `Config` type,
 * the defaults, the flags and env vars, `realtime-hub help` and the README's table.
 */
export { ConfigError } from "./config/config-error.js";
export { envName, kebab } from "./config/names.js";
export { coerce } from "./config/kinds.js";
export { parseArgv } from "./config/argv.js";
export {
  SETTINGS,
  NAMESPACE_SETTINGS,
  SCALAR_KEYS,
  defaultConfig,
  defaultNamespace,
  type Config,
  type NamespaceOptions,
  type Setting,
} from "./config/settings.js";
export { loadConfig, parseFlags } from "./config/load.js";
export { BROKER_BYTES_HEADROOM, MAX_PUBLISH_BYTES, splitAddr } from "./config/validate.js";
export { helpText, namespaceDocs, readmeTable, settingDocs } from "./config/docs.js";
