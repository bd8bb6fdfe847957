import { ConfigError } from "./config-error.js";
import { MERCURE_NAMESPACE, type Config } from "./settings.js";

// What the kinds of the settings table cannot say: addresses, names, bounds that depend on
// each other or on the selected broker. Every message starts with the key it is about.

/** An origin as browsers send it (scheme://host[:port], no path), `*` standing for part of the host or port. */
const ORIGIN_RE = /^[a-z][a-z0-9+.\-]*:\/\/[a-z0-9.\-*\[\]:]+$/i;
const ADDR_RE = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]+):\d{1,5}$/;

/**
 * Largest publish a backend can send through the server API, bytes: the HTTP API's body limit
 * (MAX_API_BODY_BYTES in transport/http-api.ts is this) and the gRPC server's receive limit.
 */
export const MAX_PUBLISH_BYTES = 4 * 1024 * 1024;
/** Room above the largest publish for what a broker adds to it (channel, envelope, subject). */
export const BROKER_BYTES_HEADROOM = 64 * 1024;

/** Least a broker byte bound may be: the largest publish the hub accepts, plus headroom. */
function minBrokerBytes(maxMessageBytes: number): number {
  return Math.max(maxMessageBytes, MAX_PUBLISH_BYTES) + BROKER_BYTES_HEADROOM;
}

/** The byte bounds of each broker, checked against minBrokerBytes when that broker is selected. */
const BROKER_BYTE_BOUNDS = {
  memory: [],
  redis: ["redisMaxPendingBytes"],
  nats: ["natsMaxPendingBytes"],
  kafka: ["kafkaMaxPendingBytes"],
  rabbitmq: ["amqpMaxQueueBytes", "amqpMaxPendingBytes"],
} as const satisfies Record<Config["broker"], readonly (keyof Config)[]>;

export function validateConfig(cfg: Config): void {
  for (const key of ["httpAddr", "grpcAddr"] as const)
    if (!ADDR_RE.test(cfg[key])) throw new ConfigError(`${key}: expected host:port, got ${JSON.stringify(cfg[key])}`);
  if (!/^[A-Za-z0-9_.\-]{1,64}$/.test(cfg.nodeId))
    throw new ConfigError(`nodeId: use 1-64 letters, digits, _ . -`);
  if (!cfg.dev && !cfg.apiKey && !cfg.insecureApi)
    throw new ConfigError(
      "apiKey: the server API needs an API key outside --dev (set --api-key / REALTIME_API_KEY, or --insecure-api to run it open on purpose)",
    );
  if (cfg.adminToken && !cfg.admin) throw new ConfigError("adminToken: set, but admin is off (set admin: true to serve /admin)");
  if (cfg.adminToken && (cfg.adminToken.length < 16 || /\s/.test(cfg.adminToken)))
    throw new ConfigError("adminToken: use at least 16 characters and no spaces (e.g. `openssl rand -hex 16`)");
  // The page calls the HTTP API, which without an API key is open to anyone (insecureApi):
  // an admin token cannot close it, so outside --dev the page needs the key.
  if (cfg.admin && !cfg.dev && !cfg.apiKey)
    throw new ConfigError(
      `admin: the admin page needs apiKey outside --dev (set --api-key / REALTIME_API_KEY): without one the server API it calls is open to anyone${cfg.adminToken ? ", adminToken or not" : ""}`,
    );
  if (!cfg.dev && !cfg.proxySecret && httpWebhooks(cfg).length > 0)
    throw new ConfigError(
      `proxySecret: HTTP webhooks are configured (${httpWebhooks(cfg).join(", ")}) and need a secret to sign their requests, or the app cannot tell the hub from anyone who reaches its URLs`,
    );
  if (cfg.broker === "kafka") {
    if (!cfg.kafkaBrokers.split(",").every((b) => ADDR_RE.test(b.trim())))
      throw new ConfigError(`kafkaBrokers: expected host:port[,host:port...], got ${JSON.stringify(cfg.kafkaBrokers)}`);
    if (!Number.isInteger(cfg.kafkaTopics) || cfg.kafkaTopics < 1 || cfg.kafkaTopics > 1024)
      throw new ConfigError("kafkaTopics: must be an integer from 1 to 1024");
    if (!/^[A-Za-z0-9_.\-]{1,200}$/.test(cfg.kafkaPrefix)) throw new ConfigError("kafkaPrefix: use letters, digits, _ . -");
  }
  if (!/^[A-Za-z0-9_\-]{1,64}$/.test(cfg.natsPrefix)) throw new ConfigError("natsPrefix: use 1-64 letters, digits, _ -");
  if (!/^[A-Za-z0-9_.\-]{1,64}$/.test(cfg.redisPrefix)) throw new ConfigError("redisPrefix: use 1-64 letters, digits, _ . -");
  if ([cfg.broker, cfg.presence, cfg.history].includes("redis") && !/^rediss?:\/\//.test(cfg.redisUrl))
    throw new ConfigError(`redisUrl: expected redis://host:port, got ${JSON.stringify(cfg.redisUrl)}`);
  if (cfg.presenceTtlSeconds < 1) throw new ConfigError("presenceTtlSeconds: must be at least 1");
  if (cfg.pingIntervalSeconds < 1) throw new ConfigError("pingIntervalSeconds: must be at least 1");
  for (const key of ["subscribeBacklogMaxEvents", "httpHeadersTimeoutSeconds", "httpBodyTimeoutSeconds"] as const)
    if (!Number.isInteger(cfg[key]) || cfg[key] < 1)
      throw new ConfigError(`${key}: must be a whole number of at least 1, got ${cfg[key]}`);
  for (const key of ["maxConnections", "maxConnectionsPerIp", "maxConnectionsPerUser"] as const)
    if (!Number.isInteger(cfg[key])) throw new ConfigError(`${key}: must be a whole number (0: no cap), got ${cfg[key]}`);
  for (const key of ["clientCommandRate", "clientPublishRate"] as const)
    if (!Number.isFinite(cfg[key]) || cfg[key] < 0) throw new ConfigError(`${key}: must be a number of at least 0 (0: no limit), got ${cfg[key]}`);
  // A burst below one would refuse every command.
  for (const key of ["clientCommandBurst", "clientPublishBurst"] as const)
    if (!Number.isInteger(cfg[key]) || cfg[key] < 0)
      throw new ConfigError(`${key}: must be a whole number of at least 0 (0: one second's worth), got ${cfg[key]}`);
  // A backlog bound below the largest publish would end a stream on the first large one.
  if (!Number.isInteger(cfg.subscribeBacklogMaxBytes) || cfg.subscribeBacklogMaxBytes < MAX_PUBLISH_BYTES + BROKER_BYTES_HEADROOM)
    throw new ConfigError(
      `subscribeBacklogMaxBytes: must be a whole number of at least ${MAX_PUBLISH_BYTES + BROKER_BYTES_HEADROOM} (the largest publish plus headroom), got ${cfg.subscribeBacklogMaxBytes}`,
    );
  for (const entry of cfg.allowedOrigins.split(",").map((o) => o.trim()).filter(Boolean))
    if (entry !== "*" && !ORIGIN_RE.test(entry))
      throw new ConfigError(`allowedOrigins: expected scheme://host[:port] (\`*\` as a wildcard), got ${JSON.stringify(entry)}`);
  // A certificate without its key (or the reverse) cannot serve TLS; silently serving plaintext
  // instead would be worse than not starting.
  for (const [cert, key] of [["httpTlsCertFile", "httpTlsKeyFile"], ["grpcTlsCertFile", "grpcTlsKeyFile"]] as const)
    if (!cfg[cert] !== !cfg[key]) throw new ConfigError(`${cfg[cert] ? key : cert}: required with ${cfg[cert] ? cert : key}`);
  if (cfg.grpcClientCaFile && !cfg.grpcTlsCertFile)
    throw new ConfigError("grpcClientCaFile: client certificates need TLS on the gRPC server (grpcTlsCertFile, grpcTlsKeyFile)");
  if (cfg.maxMessageBytes < 256) throw new ConfigError("maxMessageBytes: must be at least 256");
  // The Redis SET ... PX of an idempotent publish takes a whole, positive number of ms.
  if (!Number.isInteger(cfg.idempotencyWindowSeconds) || cfg.idempotencyWindowSeconds < 1)
    throw new ConfigError(`idempotencyWindowSeconds: must be a whole number of at least 1, got ${cfg.idempotencyWindowSeconds}`);
  // What a broker holds while it is down or slow: a bound of 0 would fail (or drop) everything.
  for (const key of ["redisMaxPending", "natsMaxPending", "kafkaMaxPending", "amqpMaxQueueLength", "amqpMaxPending"] as const)
    if (!Number.isInteger(cfg[key]) || cfg[key] < 1)
      throw new ConfigError(`${key}: must be a whole number of at least 1, got ${cfg[key]}`);
  for (const key of ["redisMaxPendingBytes", "natsMaxPendingBytes", "kafkaMaxPendingBytes", "amqpMaxQueueBytes", "amqpMaxPendingBytes"] as const)
    if (!Number.isInteger(cfg[key]) || cfg[key] < 1)
      throw new ConfigError(`${key}: must be a whole number of bytes, at least 1, got ${cfg[key]}`);
  // A byte bound below the largest publish would refuse (or, for the RabbitMQ queue, drop) that
  // publish every time, and Kafka and RabbitMQ have no idle exemption. Only the selected broker's
  // bounds matter, so only they are held to the minimum (a large --max-message-bytes with the
  // memory broker does not trip over the Redis default).
  const minBytes = minBrokerBytes(cfg.maxMessageBytes);
  for (const key of BROKER_BYTE_BOUNDS[cfg.broker])
    if (cfg[key] < minBytes)
      throw new ConfigError(
        `${key}: must be at least ${minBytes} bytes with broker ${cfg.broker} (the largest publish, ` +
          `max(maxMessageBytes, ${MAX_PUBLISH_BYTES}), plus ${BROKER_BYTES_HEADROOM}), got ${cfg[key]}`,
      );
  const seen = new Set<string>();
  for (const ns of cfg.namespaces) {
    if (!/^[A-Za-z0-9_\-.]+$/.test(ns.name))
      throw new ConfigError(`namespaces: invalid namespace name ${JSON.stringify(ns.name)}`);
    if (seen.has(ns.name)) throw new ConfigError(`namespaces: ${JSON.stringify(ns.name)} listed twice`);
    seen.add(ns.name);
  }
  const mercure = cfg.namespaces.find((ns) => ns.name === MERCURE_NAMESPACE);
  if (cfg.mercure && mercure && mercure.historySize <= 0)
    throw new ConfigError(`namespaces: ${JSON.stringify(MERCURE_NAMESPACE)} needs a historySize with mercure on: Mercure subscribers resume from history (Last-Event-ID)`);
  for (const ns of [cfg.channelDefaults, ...cfg.namespaces]) {
    if (ns.historySize > 0 && ns.historyTtlSeconds <= 0)
      throw new ConfigError(`namespaces: ${JSON.stringify(ns.name)} keeps history but has no historyTtlSeconds`);
  }
}

/** host:port -> { host, port } for listen(). */
export function splitAddr(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(":");
  return { host: addr.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(addr.slice(i + 1)) };
}

/** The settings that send webhooks over HTTP (signed with proxySecret), by name. */
function httpWebhooks(cfg: Config): string[] {
  const isHttp = (v: string) => /^https?:\/\//i.test(v.trim());
  const global = (Object.keys(cfg) as (keyof Config)[]).filter((k) => {
    const v = cfg[k];
    return /^proxy.+Url$/.test(k) && typeof v === "string" && isHttp(v);
  });
  const namespaced = [cfg.channelDefaults, ...cfg.namespaces].flatMap((ns) =>
    (["subscribeProxy", "subRefreshProxy", "publishProxy", "rpcProxy", "unsubscribeProxy"] as const).filter((k) => isHttp(ns[k])).map((k) => `${ns.name || "channelDefaults"}.${k}`),
  );
  return [...global, ...namespaced];
}
