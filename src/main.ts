#!/usr/bin/env node
import { coerce, ConfigError, envName, helpText, loadConfig, parseArgv, parseFlags } from "./config.js";
import { signTokenWith } from "./auth/jwt.js";
import { readKeyFile, signingKeyOf, type SigningKey } from "./auth/token-keys.js";
import { ListenError } from "./errors.js";
import { startHub } from "./app.js";
import { createLogger } from "./log.js";
import { VERSION } from "./version.js";

const USAGE = `realtime-hub ${VERSION}

Usage:
  realtime-hub serve [flags]        run a hub node
  realtime-hub token --user ID [--channel NAME] [--ttl SECONDS] [--info JSON]
                     [--token-hmac-secret S | --private-key-file FILE] [--alg ALG] [--kid KID]
                     [--token-issuer ISS] [--token-audience AUD]
                                    print a connection (or subscription) JWT, signed with the
                                    HMAC secret (HS256/384/512) or a private key, PEM or JWK
                                    (RS/PS/ES/EdDSA; alg by default from the key); secret,
                                    issuer and audience also come from their REALTIME_ env vars
  realtime-hub version
  realtime-hub help                 this text

${helpText()}

Precedence: flags > env > config file > --dev overrides > defaults.`;

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
  // SIGHUP reloads certificates (renewals) instead of ending the process, as daemons do.
  process.on("SIGHUP", () => {
    const reloaded = hub.reloadTls();
    log.info({ reloaded }, reloaded.length ? "SIGHUP: TLS certificates reloaded" : "SIGHUP: no TLS certificates reloaded");
  });
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

/** The flags of `token` (each --kebab-case); all take a value. */
const TOKEN_FLAGS = {
  user: "string",
  channel: "string",
  ttl: "string",
  info: "string",
  alg: "string",
  privateKeyFile: "string",
  kid: "string",
  tokenHmacSecret: "string",
  tokenIssuer: "string",
  tokenAudience: "string",
} as const;

async function token(argv: string[]): Promise<void> {
  const opts = parseArgv(argv, TOKEN_FLAGS, "token");
  // The hub's own settings: the flag, else the env var the hub reads them from.
  const setting = (key: "tokenHmacSecret" | "tokenIssuer" | "tokenAudience") => opts[key] ?? process.env[envName(key)];
  let key: SigningKey;
  try {
    const file = opts.privateKeyFile;
    const privateKey = file === undefined ? undefined : { where: `--private-key-file ${file}`, text: readKeyFile("--private-key-file", file) };
    key = signingKeyOf({ alg: opts.alg, secret: setting("tokenHmacSecret"), privateKey, kid: opts.kid });
  } catch (err) {
    throw err instanceof ConfigError ? new ConfigError(`token: ${err.message}`, { cause: err }) : err;
  }
  if (!opts.user) throw new ConfigError("token: --user is required");
  const ttl = opts.ttl === undefined ? 3600 : coerce("token: --ttl", "number", opts.ttl);
  if (!Number.isInteger(ttl)) throw new ConfigError(`token: --ttl: must be a whole number of seconds (0: no expiry), got ${ttl}`);
  let info: unknown;
  if (opts.info !== undefined) {
    try {
      info = JSON.parse(opts.info);
    } catch (err) {
      throw new ConfigError(`token: --info: must be JSON, got ${JSON.stringify(opts.info)}`, { cause: err });
    }
  }
  const claims = { sub: opts.user, channel: opts.channel, ...(info !== undefined ? { info } : {}) };
  const minted = await signTokenWith(key, claims, { expiresInSeconds: ttl, issuer: setting("tokenIssuer"), audience: setting("tokenAudience") });
  process.stdout.write(minted + "\n");
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
