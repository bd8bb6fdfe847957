#!/usr/bin/env node
import { ConfigError, envName, kebab, loadConfig, parseFlags, SCALAR_KEYS } from "./config.js";
import { signToken } from "./auth/jwt.js";
import { ListenError } from "./errors.js";
import { startHub } from "./app.js";
import { createLogger } from "./log.js";
import { VERSION } from "./version.js";

const USAGE = `realtime-hub ${VERSION}

Usage:
  realtime-hub serve [flags]        run a hub node
  realtime-hub token --user ID [--channel NAME] [--ttl SECONDS] --token-hmac-secret S
                                    print a connection (or subscription) JWT
  realtime-hub version

serve flags (each also as env REALTIME_<NAME>, and as a camelCase key in --config FILE):
  --config FILE (YAML or JSON)
${SCALAR_KEYS.map((k) => `  --${kebab(k)}  (${envName(k)})`).join("\n")}

Precedence: flags > env > config file > defaults. See README.md for what each does.`;

async function serve(argv: string[]): Promise<void> {
  const config = loadConfig({ flags: parseFlags(argv), env: process.env });
  const log = createLogger(config);
  if (config.dev)
    log.warn(
      "DEVELOPMENT MODE (--dev): anonymous connections, no API key, every namespace open with presence, history and client publish. Never run this in production.",
    );
  else if (!config.apiKey) log.warn("the server API runs WITHOUT an API key (--insecure-api)");
  const hub = await startHub(config, { log });
  log.info(
    { http: `${config.httpAddr.replace(/:\d+$/, "")}:${hub.httpPort}`, grpc: `${config.grpcAddr.replace(/:\d+$/, "")}:${hub.grpcPort}`, broker: config.broker },
    `realtime-hub ${VERSION} started`,
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, "shutting down: clients are told to reconnect");
    const force = setTimeout(() => {
      log.error("shutdown took too long; exiting");
      process.exit(1);
    }, (config.shutdownTimeoutSeconds + 5) * 1000);
    force.unref();
    hub.stop().then(
      () => {
        log.info("stopped");
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, "error during shutdown");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

async function token(argv: string[]): Promise<void> {
  const opts: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i]?.replace(/^--/, "");
    const v = argv[i + 1];
    if (!k || v === undefined) throw new ConfigError(`token: flag ${argv[i]} needs a value`);
    opts[k] = v;
  }
  const secret = opts["token-hmac-secret"] ?? process.env[envName("tokenHmacSecret")];
  if (!secret) throw new ConfigError("token: --token-hmac-secret (or REALTIME_TOKEN_HMAC_SECRET) is required");
  if (!opts.user) throw new ConfigError("token: --user is required");
  const ttl = Number(opts.ttl ?? 3600);
  process.stdout.write((await signToken(secret, { sub: opts.user, channel: opts.channel }, ttl)) + "\n");
}

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  switch (cmd) {
    case "serve":
      return serve(rest);
    case "token":
      return token(rest);
    case "version":
    case "--version":
      process.stdout.write(VERSION + "\n");
      return;
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE + "\n");
      return;
    default:
      throw new ConfigError(`unknown command ${JSON.stringify(cmd)}; try --help`);
  }
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof ListenError) {
    process.stderr.write(`realtime-hub: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`realtime-hub: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
