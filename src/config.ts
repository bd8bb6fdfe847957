import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { parse as parseYaml } from "yaml";

/** Options of one namespace (the part of a channel name before the first ':'). */
export interface NamespaceOptions {
  /** Namespace name; '' for the defaults of channels without a namespace. */
  name: string;
  /** Publications kept per channel for recovery; 0 (default) keeps none. */
  historySize: number;
  /** How long history is kept after the last publication, seconds. Default 300. */
  historyTtlSeconds: number;
  /** Track who is subscribed (presence command, Presence API). Default false. */
  presence: boolean;
  /** Send join/leave pushes to subscribers. Default false. */
  joinLeave: boolean;
  /** Clients may publish into channels of this namespace. Default false. */
  allowPublish: boolean;
  /** Subscribing needs a subscription token naming the channel. Default false. */
  private: boolean;
}

export const BROKER_KINDS = ["memory", "redis", "nats", "kafka", "rabbitmq"] as const;
export const STORE_KINDS = ["memory", "redis"] as const;
export type BrokerKind = (typeof BROKER_KINDS)[number];
export type StoreKind = (typeof STORE_KINDS)[number];

export interface Config {
  /** Development mode: anonymous connects, everything on, no API key. Default false. */
  dev: boolean;
  /** Unique id of this node in a cluster. Default: random. */
  nodeId: string;
  /** HTTP edge (WebSocket, SSE, long-poll, HTTP API, demo). Default 127.0.0.1:8080. */
  httpAddr: string;
  /** gRPC server API. Default 127.0.0.1:50051. */
  grpcAddr: string;
  /** Broker between nodes. Default memory (one process). */
  broker: BrokerKind;
  /** Where presence lives. Default memory (redis when broker is redis). */
  presence: StoreKind;
  /** Where history lives. Default memory (redis when broker is redis). */
  history: StoreKind;
  /** Redis for the redis broker and stores. Default redis://127.0.0.1:6379. */
  redisUrl: string;
  /** Prefix of every Redis key and pub/sub channel, so hubs can share a Redis. Default rh. */
  redisPrefix: string;
  /** Most broker publishes sent to Redis and not yet answered; past it publish fails at once. Default 10,000. */
  redisMaxPending: number;
  /** Most bytes of those publishes; past it publish fails at once. Default 64 MiB. */
  redisMaxPendingBytes: number;
  /** NATS server(s) for the nats broker, comma-separated. Default nats://127.0.0.1:4222. */
  natsUrl: string;
  /** First token of every NATS subject the hub uses. Default rh. */
  natsPrefix: string;
  /** Most publishes NATS has not confirmed (by a flush round trip); past it publish fails at once. Default 10,000. */
  natsMaxPending: number;
  /** Most bytes of those publishes; past it publish fails at once. Default 64 MiB. */
  natsMaxPendingBytes: number;
  /** Kafka bootstrap brokers, comma-separated host:port. Default 127.0.0.1:9092. */
  kafkaBrokers: string;
  /** Topic names are `<kafkaPrefix>.<n>`. Default rh. */
  kafkaPrefix: string;
  /** Channels hash into this many topics. Default 4. */
  kafkaTopics: number;
  /** Producer batch compression: none or gzip. Default none. */
  kafkaCompression: "none" | "gzip";
  /** Create the topics at start through the admin API; false when they are pre-created. Default true. */
  kafkaCreateTopics: boolean;
  /** Consumer group session timeout, ms. Default 30000. */
  kafkaSessionTimeoutMs: number;
  /** Consumer heartbeat interval, ms. Default 3000. */
  kafkaHeartbeatIntervalMs: number;
  /** Most publishes waiting for the Kafka producer; past it publish fails at once. Default 10,000. */
  kafkaMaxPending: number;
  /** Most payload bytes waiting for or in the Kafka producer; past it publish fails at once. Default 64 MiB. */
  kafkaMaxPendingBytes: number;
  /** RabbitMQ for the rabbitmq broker. Default amqp://guest:guest@127.0.0.1:5672. */
  amqpUrl: string;
  /** Name of the topic exchange. Default rh. */
  amqpExchange: string;
  /** Most messages a node's RabbitMQ queue holds; past it the oldest are dropped. Default 100,000. */
  amqpMaxQueueLength: number;
  /** Most message bytes a node's RabbitMQ queue holds; past it the oldest are dropped. Default 128 MiB. */
  amqpMaxQueueBytes: number;
  /** Most publishes waiting for the socket or a RabbitMQ confirm; past it publish fails at once. Default 10,000. */
  amqpMaxPending: number;
  /** Most payload bytes of those publishes; past it publish fails at once. Default 64 MiB. */
  amqpMaxPendingBytes: number;
  /** Key required on the server API (`authorization: apikey <key>`). Default none. */
  apiKey: string;
  /** Run the server API without an API key outside --dev. Default false. */
  insecureApi: boolean;
  /** HMAC secret (HS256) for connection and subscription JWTs. Default none. */
  tokenHmacSecret: string;
  /** Connect without a token. Default false (true in --dev). */
  allowAnonymous: boolean;
  /** Channels of namespaces not listed in `namespaces` use `channelDefaults`. Default false (true in --dev). */
  allowUnknownNamespaces: boolean;
  /** Options of channels without a namespace (and of unknown ones when allowed). */
  channelDefaults: NamespaceOptions;
  namespaces: NamespaceOptions[];
  /** Presence entries expire unless refreshed within this time, seconds. Default 60. */
  presenceTtlSeconds: number;
  /** Window in which a repeated idempotency key is answered without delivering again, seconds. Default 300. */
  idempotencyWindowSeconds: number;
  /** Bytes queued for one client before it is disconnected as slow. Default 4 MiB. */
  clientQueueMaxBytes: number;
  /** Bytes of events a backend Subscribe stream may fall behind by before it is ended with RESOURCE_EXHAUSTED. Default 16 MiB. */
  subscribeBacklogMaxBytes: number;
  /** Events a backend Subscribe stream may fall behind by before it is ended with RESOURCE_EXHAUSTED. Default 10,000. */
  subscribeBacklogMaxEvents: number;
  /** Time a client has to send an HTTP request's headers, seconds. Default 10. */
  httpHeadersTimeoutSeconds: number;
  /** Time a client has to send an HTTP request's body after its headers, seconds. Default 30. */
  httpBodyTimeoutSeconds: number;
  /** Connections (WebSocket, SSE, long-poll sessions) this node accepts at once; 0 = no cap. Default 0. */
  maxConnections: number;
  /** Connections from one IP address at once (behind a proxy: the proxy's address); 0 = no cap. Default 0. */
  maxConnectionsPerIp: number;
  /** Refuse connection and subscription tokens without an `exp` claim. Default false. */
  requireTokenExp: boolean;
  /** Largest incoming client frame, bytes (the HTTP API takes bodies up to MAX_API_BODY_BYTES, 4 MiB). Default 64 KiB. */
  maxMessageBytes: number;
  /** Most channels one client may subscribe to. Default 128. */
  maxChannelsPerClient: number;
  /** Server ping interval, seconds; a client silent for twice this is closed. Default 25. */
  pingIntervalSeconds: number;
  /** A long-poll request waits this long for data before answering empty, seconds. Default 25. */
  longPollTimeoutSeconds: number;
  /** Seconds to let clients go on SIGTERM before closing. Default 5. */
  shutdownTimeoutSeconds: number;
  /** pino level. Default info. */
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
}

export function defaultNamespace(name = ""): NamespaceOptions {
  return {
    name,
    historySize: 0,
    historyTtlSeconds: 300,
    presence: false,
    joinLeave: false,
    allowPublish: false,
    private: false,
  };
}

/** The embedded defaults: one process, no external service. */
export function defaultConfig(): Config {
  return {
    dev: false,
    nodeId: randomBytes(6).toString("hex"),
    httpAddr: "127.0.0.1:8080",
    grpcAddr: "127.0.0.1:50051",
    broker: "memory",
    presence: "memory",
    history: "memory",
    redisUrl: "redis://127.0.0.1:6379",
    redisPrefix: "rh",
    redisMaxPending: 10_000,
    redisMaxPendingBytes: 64 * 1024 * 1024,
    natsUrl: "nats://127.0.0.1:4222",
    natsPrefix: "rh",
    natsMaxPending: 10_000,
    natsMaxPendingBytes: 64 * 1024 * 1024,
    kafkaBrokers: "127.0.0.1:9092",
    kafkaPrefix: "rh",
    kafkaTopics: 4,
    kafkaCompression: "none",
    kafkaCreateTopics: true,
    kafkaSessionTimeoutMs: 30_000,
    kafkaHeartbeatIntervalMs: 3000,
    kafkaMaxPending: 10_000,
    kafkaMaxPendingBytes: 64 * 1024 * 1024,
    amqpUrl: "amqp://guest:guest@127.0.0.1:5672",
    amqpExchange: "rh",
    amqpMaxQueueLength: 100_000,
    amqpMaxQueueBytes: 128 * 1024 * 1024,
    amqpMaxPending: 10_000,
    amqpMaxPendingBytes: 64 * 1024 * 1024,
    apiKey: "",
    insecureApi: false,
    tokenHmacSecret: "",
    allowAnonymous: false,
    allowUnknownNamespaces: false,
    channelDefaults: defaultNamespace(),
    namespaces: [],
    presenceTtlSeconds: 60,
    idempotencyWindowSeconds: 300,
    clientQueueMaxBytes: 4 * 1024 * 1024,
    subscribeBacklogMaxBytes: 16 * 1024 * 1024,
    subscribeBacklogMaxEvents: 10_000,
    httpHeadersTimeoutSeconds: 10,
    httpBodyTimeoutSeconds: 30,
    maxConnections: 0,
    maxConnectionsPerIp: 0,
    requireTokenExp: false,
    maxMessageBytes: 64 * 1024,
    maxChannelsPerClient: 128,
    pingIntervalSeconds: 25,
    longPollTimeoutSeconds: 25,
    shutdownTimeoutSeconds: 5,
    logLevel: "info",
  };
}

/** What --dev turns on, unless the file, env or flags say otherwise. */
function devOverrides(): Partial<Config> {
  return {
    allowAnonymous: true,
    allowUnknownNamespaces: true,
    insecureApi: true,
    channelDefaults: {
      name: "",
      historySize: 100,
      historyTtlSeconds: 300,
      presence: true,
      joinLeave: true,
      allowPublish: true,
      private: false,
    },
  };
}

export class ConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ConfigError";
  }
}

type ScalarKind = "string" | "number" | "boolean" | readonly string[];

/** Every scalar setting: its flag is --kebab-case, its env var REALTIME_SNAKE_CASE. */
const SCALARS: Record<string, ScalarKind> = {
  dev: "boolean",
  nodeId: "string",
  httpAddr: "string",
  grpcAddr: "string",
  broker: BROKER_KINDS,
  presence: STORE_KINDS,
  history: STORE_KINDS,
  redisUrl: "string",
  redisPrefix: "string",
  redisMaxPending: "number",
  redisMaxPendingBytes: "number",
  natsUrl: "string",
  natsPrefix: "string",
  natsMaxPending: "number",
  natsMaxPendingBytes: "number",
  kafkaBrokers: "string",
  kafkaPrefix: "string",
  kafkaTopics: "number",
  kafkaCompression: ["none", "gzip"],
  kafkaCreateTopics: "boolean",
  kafkaSessionTimeoutMs: "number",
  kafkaHeartbeatIntervalMs: "number",
  kafkaMaxPending: "number",
  kafkaMaxPendingBytes: "number",
  amqpUrl: "string",
  amqpExchange: "string",
  amqpMaxQueueLength: "number",
  amqpMaxQueueBytes: "number",
  amqpMaxPending: "number",
  amqpMaxPendingBytes: "number",
  apiKey: "string",
  insecureApi: "boolean",
  tokenHmacSecret: "string",
  allowAnonymous: "boolean",
  allowUnknownNamespaces: "boolean",
  presenceTtlSeconds: "number",
  idempotencyWindowSeconds: "number",
  clientQueueMaxBytes: "number",
  subscribeBacklogMaxBytes: "number",
  subscribeBacklogMaxEvents: "number",
  httpHeadersTimeoutSeconds: "number",
  httpBodyTimeoutSeconds: "number",
  maxConnections: "number",
  maxConnectionsPerIp: "number",
  requireTokenExp: "boolean",
  maxMessageBytes: "number",
  maxChannelsPerClient: "number",
  pingIntervalSeconds: "number",
  longPollTimeoutSeconds: "number",
  shutdownTimeoutSeconds: "number",
  logLevel: ["fatal", "error", "warn", "info", "debug", "trace", "silent"],
};

const NAMESPACE_KEYS: Record<keyof NamespaceOptions, ScalarKind> = {
  name: "string",
  historySize: "number",
  historyTtlSeconds: "number",
  presence: "boolean",
  joinLeave: "boolean",
  allowPublish: "boolean",
  private: "boolean",
};

export const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
export const envName = (key: string) => "REALTIME_" + key.replace(/[A-Z]/g, (c) => "_" + c).toUpperCase();

/** Every config key a flag or env var can set (used by docs and the compose-file check). */
export const SCALAR_KEYS = Object.keys(SCALARS);

function coerce(where: string, kind: ScalarKind, raw: unknown): unknown {
  if (Array.isArray(kind)) {
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
  throw new ConfigError(`${where}: unsupported setting`);
}

function parseNamespace(where: string, raw: unknown, base: NamespaceOptions): NamespaceOptions {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new ConfigError(`${where}: must be an object`);
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(raw)) {
    const kind = NAMESPACE_KEYS[k as keyof NamespaceOptions];
    if (!kind) throw new ConfigError(`${where}.${k}: unknown key (known: ${Object.keys(NAMESPACE_KEYS).join(", ")})`);
    out[k] = coerce(`${where}.${k}`, kind, v);
  }
  return out as unknown as NamespaceOptions;
}

/** Reads a YAML or JSON config file into a partial config, naming any bad key. */
export function readConfigFile(path: string): Record<string, unknown> {
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

/** Splits argv flags (`--key value`, `--key=value`, bare booleans) into key/value pairs. */
export function parseFlags(argv: string[]): Record<string, string | boolean> {
  const byFlag = new Map([...SCALAR_KEYS, "config"].map((k) => [kebab(k), k]));
  const out: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)}`);
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const key = byFlag.get(name);
    if (!key) throw new ConfigError(`unknown flag --${name}`);
    if (eq >= 0) out[key] = arg.slice(eq + 1);
    else if (key !== "config" && SCALARS[key] === "boolean") {
      // `--flag`, or `--flag true|false` (what scripts and compose files tend to write).
      const next = argv[i + 1];
      out[key] = next === "true" || next === "false" ? argv[++i]! : true;
    }
    else {
      const next = argv[++i];
      if (next === undefined) throw new ConfigError(`flag --${name} needs a value`);
      out[key] = next;
    }
  }
  return out;
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
  const configPath = (flags.config as string | undefined) ?? env[envName("config")];
  if (configPath) Object.assign(file, readConfigFile(configPath), sources.file ?? {});

  const scalars: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(file)) {
    if (k === "namespaces" || k === "channelDefaults") continue;
    const kind = SCALARS[k];
    if (!kind) throw new ConfigError(`config file: unknown key ${JSON.stringify(k)}`);
    scalars[k] = coerce(`config file: ${k}`, kind, v);
  }
  for (const [k, kind] of Object.entries(SCALARS)) {
    const v = env[envName(k)];
    if (v !== undefined && v !== "") scalars[k] = coerce(envName(k), kind, v);
  }
  for (const [k, v] of Object.entries(flags)) {
    if (k === "config") continue;
    scalars[k] = coerce(`--${kebab(k)}`, SCALARS[k]!, v);
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
  validateConfig(cfg);
  return cfg;
}

const ADDR_RE = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]+):\d{1,5}$/;

/**
 * Largest publish a backend can send through the server API, bytes: the HTTP API's body limit
 * (MAX_API_BODY_BYTES in transport/http-api.ts is this) and the gRPC server's receive limit.
 */
export const MAX_PUBLISH_BYTES = 4 * 1024 * 1024;
/** Room above the largest publish for what a broker adds to it (channel, envelope, subject). */
export const BROKER_BYTES_HEADROOM = 64 * 1024;

/** Least a broker byte bound may be: the largest publish the hub accepts, plus headroom. */
export function minBrokerBytes(maxMessageBytes: number): number {
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
  for (const key of ["maxConnections", "maxConnectionsPerIp"] as const)
    if (!Number.isInteger(cfg[key])) throw new ConfigError(`${key}: must be a whole number (0: no cap), got ${cfg[key]}`);
  // A backlog bound below the largest publish would end a stream on the first large one.
  if (!Number.isInteger(cfg.subscribeBacklogMaxBytes) || cfg.subscribeBacklogMaxBytes < MAX_PUBLISH_BYTES + BROKER_BYTES_HEADROOM)
    throw new ConfigError(
      `subscribeBacklogMaxBytes: must be a whole number of at least ${MAX_PUBLISH_BYTES + BROKER_BYTES_HEADROOM} (the largest publish plus headroom), got ${cfg.subscribeBacklogMaxBytes}`,
    );
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
