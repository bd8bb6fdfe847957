import type { Logger } from "pino";
import type { Config } from "./config.js";
import type { Broker } from "./broker/broker.js";
import { MemoryBroker, type MemoryBus } from "./broker/memory.js";
import { isHistoryPublisher } from "./broker/broker.js";
import { RedisBroker } from "./broker/redis.js";
import { NatsBroker } from "./broker/nats.js";
import { KafkaBroker } from "./broker/kafka.js";
import { RabbitMqBroker } from "./broker/rabbitmq.js";
import { RedisPresenceStore } from "./presence/redis.js";
import { RedisHistoryStore } from "./history/redis.js";
import { RedisIdempotencyStore } from "./idempotency/redis.js";
import { RedisUserConnectionStore } from "./user-connections/redis.js";
import { connectRedis, createRedis } from "./redis/connection.js";
import type { Redis } from "ioredis";
import type { PresenceStore } from "./presence/presence-store.js";
import { MemoryPresenceStore } from "./presence/memory.js";
import type { HistoryStore } from "./history/history-store.js";
import { MemoryHistoryStore } from "./history/memory.js";
import { HubNode } from "./node.js";
import type { Clock } from "./clock.js";
import { ServerApi } from "./api/server-api.js";
import { TokenVerifier } from "./auth/jwt.js";
import { startHttpServer } from "./transport/http-server.js";
import { startGrpcServer } from "./grpc/server.js";
import { tlsFilesOf } from "./transport/tls-files.js";
import { createLogger } from "./log.js";

export interface RunningHub {
  node: HubNode;
  api: ServerApi;
  httpPort: number;
  grpcPort: number;
  /**
   * Serves new connections with the TLS files as they are now (SIGHUP); open connections keep
   * their certificates. A listener whose files are unreadable or wrong keeps its certificates
   * and is logged. Returns the listeners reloaded.
   */
  reloadTls(): Array<"http" | "grpc">;
  /** Graceful: stop accepting, tell clients to reconnect, close stores. Idempotent. */
  stop(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** Memory brokers on one bus form a cluster inside one process (tests). */
  bus?: MemoryBus;
  /** Time and timers of the node and its edge; the system's when absent (tests move time). */
  clock?: Clock;
}

/** The broker and stores the config asks for, and what must be closed after them. */
async function createBackends(config: Config, opts: StartOptions, log: Logger) {
  const cleanup: Array<() => void> = [];
  const needsRedis = [config.broker, config.presence, config.history].includes("redis");
  let redis: Redis | undefined;
  try {
    if (needsRedis) {
      redis = createRedis(config.redisUrl, log, "commands");
      cleanup.push(() => redis!.disconnect());
      await connectRedis(redis, config.redisUrl);
    }
    let broker: Broker;
    switch (config.broker) {
      case "memory":
        broker = new MemoryBroker(opts.bus);
        break;
      case "redis": {
        const sub = createRedis(config.redisUrl, log, "pubsub");
        cleanup.push(() => sub.disconnect());
        await connectRedis(sub, config.redisUrl);
        broker = new RedisBroker(redis!, sub, config.redisPrefix, log, {
          maxPending: config.redisMaxPending,
          maxPendingBytes: config.redisMaxPendingBytes,
        });
        break;
      }
      case "nats":
        broker = new NatsBroker(config.natsUrl, config.natsPrefix, log, {
          maxPending: config.natsMaxPending,
          maxPendingBytes: config.natsMaxPendingBytes,
        });
        break;
      case "kafka":
        broker = new KafkaBroker(
          {
            brokers: config.kafkaBrokers.split(",").map((b) => b.trim()),
            prefix: config.kafkaPrefix,
            topics: config.kafkaTopics,
            nodeId: config.nodeId,
            compression: config.kafkaCompression,
            createTopics: config.kafkaCreateTopics,
            sessionTimeoutMs: config.kafkaSessionTimeoutMs,
            heartbeatIntervalMs: config.kafkaHeartbeatIntervalMs,
            maxPending: config.kafkaMaxPending,
            maxPendingBytes: config.kafkaMaxPendingBytes,
          },
          log,
        );
        break;
      case "rabbitmq":
        broker = new RabbitMqBroker(config.amqpUrl, config.amqpExchange, log, {
          maxQueueLength: config.amqpMaxQueueLength,
          maxQueueBytes: config.amqpMaxQueueBytes,
          maxPending: config.amqpMaxPending,
          maxPendingBytes: config.amqpMaxPendingBytes,
        });
        break;
    }
    const presence: PresenceStore =
      config.presence === "redis" ? new RedisPresenceStore(redis!, config.redisPrefix) : new MemoryPresenceStore();
    const history: HistoryStore =
      config.history === "redis" ? new RedisHistoryStore(redis!, config.redisPrefix) : new MemoryHistoryStore();
    // Atomic append+publish only when history lives where the broker publishes.
    const historyPublisher = config.broker === "redis" && config.history === "redis" && isHistoryPublisher(broker) ? broker : undefined;
    // With Redis at hand, idempotency keys live there, so a retry that reaches another node
    // is still recognised; without it, each node remembers its own.
    const idempotency = redis
      ? new RedisIdempotencyStore(redis, config.redisPrefix, { windowMs: config.idempotencyWindowSeconds * 1000, log })
      : undefined;
    // Connections per user are the cluster's where presence is: with presence in memory each
    // node counts its own.
    const userConnections = config.presence === "redis" ? new RedisUserConnectionStore(redis!, config.redisPrefix) : undefined;
    return { broker, presence, history, historyPublisher, idempotency, userConnections, close: () => cleanup.forEach((f) => f()) };
  } catch (err) {
    cleanup.forEach((f) => f());
    throw err;
  }
}

/** Wires one hub node from its config and starts its HTTP edge and gRPC server. */
export async function startHub(config: Config, opts: StartOptions = {}): Promise<RunningHub> {
  const log = opts.log ?? createLogger(config);
  // Certificate files are read and checked before anything starts: a bad one is a ConfigError,
  // not a half-started hub.
  const tls = tlsFilesOf(config);
  tls.http?.read();
  tls.grpc?.read();
  // Token keys likewise: a bad key stops the start instead of failing every connect.
  const verifier = TokenVerifier.fromConfig(config, log);
  const backends = await createBackends(config, opts, log);
  // Offsets mean the same on every node only when the history store is shared.
  const sharedHistory = config.history === "redis" || config.broker === "memory";
  if (!sharedHistory)
    log.warn(
      { broker: config.broker, history: config.history },
      "history in memory with a cluster broker: each node numbers publications itself, so a client recovers only on the node it used; use history: redis",
    );
  const node = new HubNode({ config, log, sharedHistory, clock: opts.clock, ...backends });
  try {
    await node.start();
  } catch (err) {
    backends.close();
    throw err;
  }
  const api = new ServerApi(node);
  const http = await startHttpServer({ node, api, verifier, config, log, tls: tls.http });
  let grpc: Awaited<ReturnType<typeof startGrpcServer>>;
  try {
    grpc = await startGrpcServer({ node, api, config, log, tls: tls.grpc });
  } catch (err) {
    await http.close();
    await node.shutdown();
    backends.close();
    throw err;
  }
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // Order matters: refuse new work first, then tell clients to go, then close stores.
      const closing = Promise.all([http.close(), grpc.close()]);
      await node.shutdown();
      await closing;
      backends.close();
    })());
  const reloadTls = () =>
    (["http", "grpc"] as const).filter((listener) => {
      try {
        return (listener === "http" ? http : grpc).reloadTls();
      } catch (err) {
        log.error({ err, listener }, "TLS reload failed: still serving the previous certificates");
        return false;
      }
    });
  return { node, api, httpPort: http.port, grpcPort: grpc.port, reloadTls, stop };
}
