/**
 * The hub's configuration: one table of settings (config/settings.ts) gives the `Config` type,
 * the defaults, the flags and env vars, `realtime-hub help` and the README's table.
 */
export { ConfigError } from "./config/config-error.js";
export { envName, kebab } from "./config/names.js";
export { coerce, type Kind, type Value } from "./config/kinds.js";
export { parseArgv, type FlagKind } from "./config/argv.js";
export {
  BROKER_KINDS,
  STORE_KINDS,
  SETTINGS,
  NAMESPACE_SETTINGS,
  SCALAR_KEYS,
  defaultConfig,
  defaultNamespace,
  type BrokerKind,
  type StoreKind,
  type Config,
  type NamespaceOptions,
  type Setting,
  type SettingKey,
} from "./config/settings.js";
export { loadConfig, parseFlags, readConfigFile } from "./config/load.js";
export { BROKER_BYTES_HEADROOM, MAX_PUBLISH_BYTES, minBrokerBytes, splitAddr, validateConfig } from "./config/validate.js";
export { helpText, namespaceDocs, readmeTable, settingDocs, type SettingDoc } from "./config/docs.js";
