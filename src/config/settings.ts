import { randomBytes } from "node:crypto";
import type { Kind, Value } from "./kinds.js";

/**
 * One setting: its kind, its default, one line of doc. Its flag (--kebab-case) and env var
 * (REALTIME_SNAKE_CASE) come from its key; `realtime-hub help` and the README's configuration
 * table are printed from it. A default that is generated (a function) needs a `defaultText`
 * for the docs; an empty string reads "none" unless it says otherwise.
 */
export type Setting<K extends Kind = Kind> = { readonly kind: K; readonly doc: string } & (
  | { readonly default: Value<K>; readonly defaultText?: string }
  | { readonly default: () => Value<K>; readonly defaultText: string }
);

/** Checks each entry's default against its own kind (an enum default must be one of its words). */
type Checked<S> = S extends { kind: infer K extends Kind } ? Setting<K> : never;
const defineSettings = <const T extends { [P in keyof T]: Checked<T[P]> }>(table: T): T => table;

const BROKER_KINDS = ["memory", "redis", "nats", "kafka", "rabbitmq"] as const;
const STORE_KINDS = ["memory", "redis"] as const;

const MiB = 1024 * 1024;

/**
 * Every setting a flag, an env var or a config file key can set, in the order `help` and the
 * README list them. Precedence: flags > env > config file > --dev overrides > these defaults.
 */
export const SETTINGS = defineSettings({
  dev: { kind: "boolean", default: false, doc: "development mode: anonymous connections, no API key, every namespace open; never in production" },
  httpAddr: { kind: "string", default: "127.0.0.1:8080", doc: "HTTP edge, HTTP API, demo" },
  grpcAddr: { kind: "string", default: "127.0.0.1:50051", doc: "gRPC server API" },
  nodeId: { kind: "string", default: () => randomBytes(6).toString("hex"), defaultText: "random", doc: "this node's id in a cluster" },
  broker: { kind: BROKER_KINDS, default: "memory", doc: "broker between nodes: memory (one process), redis, nats, kafka, rabbitmq" },
  presence: { kind: STORE_KINDS, default: "memory", doc: "presence store: memory or redis (redis when the broker is)" },
  history: { kind: STORE_KINDS, default: "memory", doc: "history store: memory or redis (redis when the broker is)" },
  redisUrl: { kind: "string", default: "redis://127.0.0.1:6379", doc: "Redis for the redis broker and stores" },
  redisPrefix: { kind: "string", default: "rh", doc: "prefix of every Redis key and pub/sub channel" },
  redisMaxPending: { kind: "number", default: 10_000, doc: "broker publishes Redis has not answered yet; past it publish fails at once" },
  redisMaxPendingBytes: { kind: "number", default: 64 * MiB, doc: "bytes of the publishes Redis has not answered yet (64 MiB); past it publish fails at once" },
  natsUrl: { kind: "string", default: "nats://127.0.0.1:4222", doc: "NATS server(s), comma-separated" },
  natsPrefix: { kind: "string", default: "rh", doc: "first token of every NATS subject" },
  natsMaxPending: { kind: "number", default: 10_000, doc: "publishes NATS has not confirmed yet (by a flush round trip); past it publish fails at once" },
  natsMaxPendingBytes: { kind: "number", default: 64 * MiB, doc: "bytes of the publishes NATS has not confirmed yet, subject + payload (64 MiB); past it publish fails at once" },
  kafkaBrokers: { kind: "string", default: "127.0.0.1:9092", doc: "Kafka bootstrap brokers, comma-separated" },
  kafkaPrefix: { kind: "string", default: "rh", doc: "topics are `<prefix>.0` ... `<prefix>.<n-1>`" },
  kafkaTopics: { kind: "number", default: 4, doc: "channels hash into this many topics" },
  kafkaCompression: { kind: ["none", "gzip"], default: "none", doc: "producer batches: none or gzip" },
  kafkaCreateTopics: { kind: "boolean", default: true, doc: "create topics at start (false when pre-created)" },
  kafkaSessionTimeoutMs: { kind: "number", default: 30_000, doc: "consumer group session timeout, ms" },
  kafkaHeartbeatIntervalMs: { kind: "number", default: 3000, doc: "consumer heartbeat interval, ms" },
  kafkaMaxPending: { kind: "number", default: 10_000, doc: "publishes waiting for the producer; past it publish fails at once" },
  kafkaMaxPendingBytes: { kind: "number", default: 64 * MiB, doc: "bytes of the publishes waiting for the producer, counted until Kafka acks them (64 MiB); past it publish fails at once" },
  amqpUrl: { kind: "string", default: "amqp://guest:guest@127.0.0.1:5672", doc: "RabbitMQ for the rabbitmq broker" },
  amqpExchange: { kind: "string", default: "rh", doc: "topic exchange name" },
  amqpMaxQueueLength: { kind: "number", default: 100_000, doc: "messages a node's queue holds; past it the oldest are dropped" },
  amqpMaxQueueBytes: { kind: "number", default: 128 * MiB, doc: "message bytes a node's queue holds (128 MiB); past it the oldest are dropped" },
  amqpMaxPending: { kind: "number", default: 10_000, doc: "publishes not yet confirmed; past it publish fails at once" },
  amqpMaxPendingBytes: { kind: "number", default: 64 * MiB, doc: "bytes of the publishes not yet confirmed (64 MiB); past it publish fails at once" },
  apiKey: { kind: "string", default: "", doc: "required on the server API (`authorization: apikey <key>`)" },
  insecureApi: { kind: "boolean", default: false, doc: "run the server API without a key outside `--dev`" },
  admin: { kind: "boolean", default: false, doc: "the admin page at /admin (docs/operations.md): nodes, channels, presence, live publications and the admin actions, through the HTTP API, signed in with the API key or `adminToken`; needs `apiKey` outside `--dev` (loud in the log in `--dev`)" },
  adminToken: { kind: "string", default: "", doc: "a token the admin page may sign in with instead of the API key (`authorization: admin <token>`, at least 16 characters): it calls what the page uses, not Broadcast or EraseUser; needs `admin`" },
  tokenHmacSecret: { kind: "string", default: "", doc: "HMAC secret of connection/subscription JWTs (HS256, HS384, HS512)" },
  tokenPublicKey: { kind: "string", default: "", doc: "public key(s) of RS/PS/ES/EdDSA tokens, as text: PEM (public key or certificate, several blocks allowed), a JWK or a JWK Set (keys picked by `kid`)" },
  tokenPublicKeyFile: { kind: "string", default: "", doc: "file holding such public key(s), read at start; adds to `tokenPublicKey`" },
  tokenJwksUrl: { kind: "string", default: "", doc: "http(s) URL of a JWK Set with the token keys: cached, fetched again on an unknown `kid`" },
  tokenJwksCacheSeconds: { kind: "number", default: 600, doc: "the JWK Set is fetched again when older than this" },
  tokenJwksCooldownSeconds: { kind: "number", default: 30, doc: "least time between two JWK Set fetches; an unknown `kid` within it is refused without a fetch" },
  tokenIssuer: { kind: "string", default: "", defaultText: "none (not checked)", doc: "tokens must carry this `iss` claim" },
  tokenAudience: { kind: "string", default: "", defaultText: "none (not checked)", doc: "tokens must carry this `aud` claim (or a list holding it)" },
  allowAnonymous: { kind: "boolean", default: false, doc: "connect without a token (a token with an empty `sub` counts as none)" },
  requireTokenExp: { kind: "boolean", default: false, doc: "refuse connection and subscription tokens without an `exp` claim" },
  allowUnknownNamespaces: { kind: "boolean", default: false, doc: "channels of unlisted namespaces use `channelDefaults`" },
  presenceTtlSeconds: { kind: "number", default: 60, doc: "presence entries expire unless refreshed" },
  idempotencyWindowSeconds: { kind: "number", default: 300, doc: "idempotency key memory (whole seconds, at least 1)" },
  proxyConnectUrl: { kind: "string", default: "", doc: "connect webhook: clients without a token are authenticated by the app (http(s):// POST or grpc(s):// ProxyService)" },
  proxyRefreshUrl: { kind: "string", default: "", doc: "refresh webhook: extends connections the connect webhook gave an expire_at" },
  proxySubscribeUrl: { kind: "string", default: "", doc: "subscribe webhook of every namespace (a namespace's `subscribeProxy` overrides it)" },
  proxySubRefreshUrl: { kind: "string", default: "", doc: "subscription refresh webhook of every namespace (`subRefreshProxy` overrides it)" },
  proxyPublishUrl: { kind: "string", default: "", doc: "publish webhook of every namespace: client publications go through the app (`publishProxy` overrides it)" },
  proxyRpcUrl: { kind: "string", default: "", doc: "rpc webhook: answers client `rpc` commands (a method `ns:name` uses namespace ns's `rpcProxy`)" },
  proxyDisconnectUrl: { kind: "string", default: "", doc: "disconnect notifications: told when a connection closes (at least once, with an event id)" },
  proxyUnsubscribeUrl: { kind: "string", default: "", doc: "unsubscribe notifications of every namespace (`unsubscribeProxy` overrides it)" },
  proxySecret: { kind: "string", default: "", doc: "HMAC-SHA256 key that signs every HTTP webhook request (X-Realtime-Signature)" },
  proxyHeaders: { kind: "string", default: "", doc: "headers of the client's request forwarded to webhooks, comma-separated (e.g. cookie,authorization)" },
  proxyCookies: { kind: "string", default: "", doc: "cookies of the client's request forwarded to webhooks by name, comma-separated (e.g. PHPSESSID)" },
  proxyContentType: { kind: ["json", "protobuf"], default: "json", doc: "HTTP webhook bodies: proto3 JSON or binary protobuf (application/x-protobuf)" },
  proxyMaxResponseBytes: { kind: "number", default: 1024 * 1024, doc: "largest webhook answer (1 MiB); a bigger one fails the call" },
  proxyConnectTimeoutMs: { kind: "number", default: 3000, doc: "connect webhook timeout, ms" },
  proxyRefreshTimeoutMs: { kind: "number", default: 3000, doc: "refresh webhook timeout, ms" },
  proxySubscribeTimeoutMs: { kind: "number", default: 3000, doc: "subscribe webhook timeout, ms" },
  proxySubRefreshTimeoutMs: { kind: "number", default: 3000, doc: "subscription refresh webhook timeout, ms" },
  proxyPublishTimeoutMs: { kind: "number", default: 3000, doc: "publish webhook timeout, ms" },
  proxyRpcTimeoutMs: { kind: "number", default: 10_000, doc: "rpc webhook timeout, ms" },
  proxyNotifyTimeoutMs: { kind: "number", default: 3000, doc: "timeout of one disconnect or unsubscribe notification attempt, ms" },
  proxyNotifyRetrySeconds: { kind: "number", default: 60, doc: "how long a notification the app did not take is retried" },
  rpcTimeoutMs: { kind: "number", default: 10_000, doc: "time a backend's HandleRpc stream has to answer a browser rpc (broker-first rpc), ms" },
  clientQueueMaxBytes: { kind: "number", default: 4 * MiB, doc: "a client further behind is disconnected (3008)" },
  maxMessageBytes: { kind: "number", default: 64 * 1024, doc: "largest client frame (bigger: close 1009)" },
  maxConnections: { kind: "number", default: 0, defaultText: "0 (no cap)", doc: "connections this node holds at once (WebSocket, SSE, long-poll); past it: close 3014 / HTTP 503" },
  maxConnectionsPerIp: { kind: "number", default: 0, defaultText: "0 (no cap)", doc: "connections from one IP address (behind a proxy: the proxy's); past it: close 3505 / HTTP 429" },
  maxConnectionsPerUser: { kind: "number", default: 0, defaultText: "0 (no cap)", doc: "connections of one user (the cluster's when presence is in Redis; anonymous ones not counted); past it: connect error 106, close 3505" },
  clientCommandRate: { kind: "number", default: 0, defaultText: "0 (no limit)", doc: "commands per second one connection may send (token bucket); past it: error 111, and at twice the rate or more close 3501" },
  clientCommandBurst: { kind: "number", default: 0, defaultText: "0 (one second's worth)", doc: "commands a connection may send at once above `clientCommandRate`" },
  clientPublishRate: { kind: "number", default: 0, defaultText: "0 (no limit)", doc: "publish commands per second one connection may send (token bucket); past it: error 111, and at twice the rate or more close 3501" },
  clientPublishBurst: { kind: "number", default: 0, defaultText: "0 (one second's worth)", doc: "publishes a connection may send at once above `clientPublishRate`" },
  allowedOrigins: { kind: "string", default: "", defaultText: "none (the hub's own origin only)", doc: "browser origins that may open WebSocket, SSE and long-poll connections besides the hub's own, comma-separated; `*` in a host is a wildcard (`https://*.example.com`), `*` alone allows any; requests without `Origin` are not checked" },
  httpTlsCertFile: { kind: "string", default: "", doc: "PEM certificate (chain) of the HTTP edge: serve https and wss (reloaded on SIGHUP)" },
  httpTlsKeyFile: { kind: "string", default: "", doc: "PEM private key of `httpTlsCertFile`" },
  grpcTlsCertFile: { kind: "string", default: "", doc: "PEM certificate (chain) of the gRPC server API: serve it over TLS (reloaded on SIGHUP)" },
  grpcTlsKeyFile: { kind: "string", default: "", doc: "PEM private key of `grpcTlsCertFile`" },
  grpcClientCaFile: { kind: "string", default: "", doc: "PEM CA of gRPC client certificates (mTLS): a client presenting one it signed needs no API key (reloaded on SIGHUP)" },
  httpHeadersTimeoutSeconds: { kind: "number", default: 10, doc: "time to send a request's headers, every HTTP endpoint" },
  httpBodyTimeoutSeconds: { kind: "number", default: 30, doc: "time to send a request's body after its headers (HTTP 408 past it)" },
  subscribeBacklogMaxBytes: { kind: "number", default: 16 * MiB, doc: "bytes a backend `Subscribe` stream may fall behind by (16 MiB); past it the stream ends with RESOURCE_EXHAUSTED" },
  subscribeBacklogMaxEvents: { kind: "number", default: 10_000, doc: "events a backend `Subscribe` stream may fall behind by; past it the stream ends with RESOURCE_EXHAUSTED" },
  maxChannelsPerClient: { kind: "number", default: 128, doc: "subscriptions per connection" },
  pingIntervalSeconds: { kind: "number", default: 25, doc: "server pings; silent clients are closed after 2x" },
  longPollTimeoutSeconds: { kind: "number", default: 25, doc: "how long a poll waits" },
  shutdownTimeoutSeconds: { kind: "number", default: 5, doc: "grace period on SIGTERM" },
  mercure: { kind: "boolean", default: false, doc: "Mercure-compatible publishing and subscribing at /.well-known/mercure (on in `--dev`); topics map to the `mercure` namespace, added with historySize 1000 and historyTtlSeconds 3600 unless listed (docs/mercure.md)" },
  mercureJwtSecret: { kind: "string", default: "", defaultText: "none (the token keys verify them)", doc: "HMAC secret of Mercure publisher and subscriber JWTs, instead of the token keys" },
  mercureSubscriptions: { kind: "boolean", default: false, doc: "Mercure subscription events: a private update of `/.well-known/mercure/subscriptions/{topic}/{subscriber}` when a Mercure subscriber connects and disconnects (docs/mercure.md)" },
  logLevel: { kind: ["fatal", "error", "warn", "info", "debug", "trace", "silent"], default: "info", doc: "pino level" },
});

export type SettingKey = keyof typeof SETTINGS;
type Values<T extends Record<string, Setting>> = { -readonly [P in keyof T]: Value<T[P]["kind"]> };

/**
 * The options of one namespace (the part of a channel name before the first ':'). They live
 * in the config file only: in `channelDefaults` and in each entry of `namespaces`.
 */
export const NAMESPACE_SETTINGS = defineSettings({
  name: { kind: "string", default: "", doc: "the namespace: the part of a channel name before the first ':' (each of `namespaces` needs one)" },
  historySize: { kind: "number", default: 0, defaultText: "0 (none)", doc: "publications kept per channel for recovery" },
  historyTtlSeconds: { kind: "number", default: 300, doc: "how long history is kept after the last publication, seconds" },
  presence: { kind: "boolean", default: false, doc: "track who is subscribed (presence command, Presence API)" },
  joinLeave: { kind: "boolean", default: false, doc: "send join/leave pushes to subscribers" },
  allowPublish: { kind: "boolean", default: false, doc: "clients may publish into channels of this namespace" },
  private: { kind: "boolean", default: false, doc: "subscribing needs a subscription token naming the channel" },
  subscribeProxy: { kind: "string", default: "", defaultText: "proxySubscribeUrl", doc: "subscribe webhook of this namespace: a URL, or `off`" },
  subRefreshProxy: { kind: "string", default: "", defaultText: "proxySubRefreshUrl", doc: "subscription refresh webhook of this namespace: a URL, or `off`" },
  publishProxy: { kind: "string", default: "", defaultText: "proxyPublishUrl", doc: "publish webhook of this namespace: a URL, or `off`" },
  rpcProxy: { kind: "string", default: "", defaultText: "proxyRpcUrl", doc: "rpc webhook of methods `<namespace>:<name>`: a URL, or `off`" },
  unsubscribeProxy: { kind: "string", default: "", defaultText: "proxyUnsubscribeUrl", doc: "unsubscribe notifications of this namespace: a URL, or `off`" },
});

/** Options of one namespace; the keys and types come from NAMESPACE_SETTINGS. */
export type NamespaceOptions = Values<typeof NAMESPACE_SETTINGS>;

/** The one config object: every setting of SETTINGS, plus the namespaces of the config file. */
export type Config = Values<typeof SETTINGS> & {
  /** Options of channels without a namespace (and of unknown ones when allowed). */
  channelDefaults: NamespaceOptions;
  /** Namespaces and their options (channels of others are refused unless allowUnknownNamespaces). */
  namespaces: NamespaceOptions[];
};

/** Every config key a flag or env var can set (used by docs and the compose-file check). */
export const SCALAR_KEYS = Object.keys(SETTINGS) as SettingKey[];

/** The setting of a key, or undefined for a key that is none (an own key only: not `constructor`). */
export function settingOf(key: string): Setting | undefined {
  return Object.hasOwn(SETTINGS, key) ? (SETTINGS as Record<string, Setting>)[key] : undefined;
}

/** The setting of a namespace option, or undefined. */
export function namespaceSettingOf(key: string): Setting | undefined {
  return Object.hasOwn(NAMESPACE_SETTINGS, key) ? (NAMESPACE_SETTINGS as Record<string, Setting>)[key] : undefined;
}

function defaultsOf<T extends Record<string, Setting>>(table: T): Values<T> {
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(table)) out[key] = typeof s.default === "function" ? s.default() : s.default;
  return out as Values<T>;
}

export function defaultNamespace(name = ""): NamespaceOptions {
  return { ...defaultsOf(NAMESPACE_SETTINGS), name };
}

/** The embedded defaults: one process, no external service. */
export function defaultConfig(): Config {
  return { ...defaultsOf(SETTINGS), channelDefaults: defaultNamespace(), namespaces: [] };
}

/** The namespace Mercure topics map to (src/mercure/topic-channel.ts). */
export const MERCURE_NAMESPACE = "mercure";

/**
 * The mercure namespace when the config lists none: history on, so a Mercure subscriber
 * resumes (Last-Event-ID), and private outside --dev, because its channels may carry private
 * updates: a WebSocket client needs a subscription token to read them.
 */
export function mercureNamespace(dev: boolean): NamespaceOptions {
  return { ...defaultNamespace(MERCURE_NAMESPACE), historySize: 1000, historyTtlSeconds: 3600, private: !dev };
}

/** What --dev turns on, unless the file, env or flags say otherwise. */
export function devOverrides(): Partial<Config> {
  return {
    allowAnonymous: true,
    allowUnknownNamespaces: true,
    insecureApi: true,
    allowedOrigins: "*",
    mercure: true,
    channelDefaults: { ...defaultNamespace(), historySize: 100, historyTtlSeconds: 300, presence: true, joinLeave: true, allowPublish: true },
  };
}

/** The flag and env var of `--config FILE`: where the file layer comes from, not a setting itself. */
export const CONFIG_FILE_KEY = "config";
