import { pino, type Logger } from "pino";
import type { Config } from "./config.js";

export type { Logger };

/** JSON logs on stdout (pino): one line per event, machine-readable in production. */
export function createLogger(config: Pick<Config, "logLevel" | "nodeId">): Logger {
  return pino({ level: config.logLevel, base: { node: config.nodeId } });
}
