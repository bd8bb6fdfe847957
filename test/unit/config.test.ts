import { describe, expect, it } from "vitest";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  coerce,
  ConfigError,
  defaultConfig,
  defaultNamespace,
  envName,
  kebab,
  loadConfig,
  MAX_PUBLISH_BYTES,
  NAMESPACE_SETTINGS,
  parseArgv,
  parseFlags,
  SCALAR_KEYS,
  settingDocs,
  SETTINGS,
  type Setting,
} from "../../src/config.js";
import { MAX_API_BODY_BYTES } from "../../src/transport/http-api.js";

const dir = mkdtempSync(join(tmpdir(), "rh-config-"));

describe("config", () => {
  it("dev mode needs no API key and opens every namespace", () => {
    const c = loadConfig({ flags: parseFlags(["--dev"]) });
    expect(c.dev).toBe(true);
    expect(c.allowAnonymous).toBe(true);
    expect(c.channelDefaults).toMatchObject({ presence: true, joinLeave: true, allowPublish: true, historySize: 100, historyTtlSeconds: 300 });
    expect(c.httpAddr).toBe("127.0.0.1:8080");
    expect(c.grpcAddr).toBe("127.0.0.1:50051");
  });

  it("refuses to start without an API key outside dev, unless told --insecure-api", () => {
    expect(() => loadConfig({})).toThrow(/apiKey/);
    expect(loadConfig({ flags: parseFlags(["--insecure-api"]) }).insecureApi).toBe(true);
    expect(() => loadConfig({ flags: parseFlags(["--insecure-api", "false"]) })).toThrow(/apiKey/);
    expect(loadConfig({ env: { REALTIME_API_KEY: "k" } }).apiKey).toBe("k");
  });

  it("takes flags over env over file over defaults", () => {
    const file = join(dir, "c.yaml");
    writeFileSync(file, "httpAddr: 127.0.0.1:1111\ngrpcAddr: 127.0.0.1:2222\nnodeId: from-file\napiKey: f\n");
    const c = loadConfig({
      flags: parseFlags(["--config", file, "--http-addr=127.0.0.1:3333"]),
      env: { REALTIME_GRPC_ADDR: "127.0.0.1:4444" },
    });
    expect(c.httpAddr).toBe("127.0.0.1:3333");
    expect(c.grpcAddr).toBe("127.0.0.1:4444");
    expect(c.nodeId).toBe("from-file");
  });

  it("reads namespaces from a JSON file", () => {
    const file = join(dir, "c.json");
    writeFileSync(file, JSON.stringify({ apiKey: "k", namespaces: [{ name: "chat", historySize: 50, presence: true }] }));
    const c = loadConfig({ flags: parseFlags(["--config", file]) });
    expect(c.namespaces[0]).toMatchObject({ name: "chat", historySize: 50, presence: true, allowPublish: false });
  });

  it("names the bad key", () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "apiKey: k\nnamespaces:\n  - name: chat\n    histroySize: 3\n");
    expect(() => loadConfig({ flags: parseFlags(["--config", file]) })).toThrow(/namespaces\[0\]\.histroySize: unknown key/);
    writeFileSync(file, "apiKey: k\nhttpPort: 1\n");
    expect(() => loadConfig({ flags: parseFlags(["--config", file]) })).toThrow(/unknown key "httpPort"/);
    expect(() => loadConfig({ env: { REALTIME_BROKER: "kafkaa", REALTIME_API_KEY: "k" } })).toThrow(/REALTIME_BROKER: must be one of/);
    expect(() => loadConfig({ flags: parseFlags(["--dev", "--http-addr", "nope"]) })).toThrow(/httpAddr/);
    expect(() => parseFlags(["--no-such-flag"])).toThrow(ConfigError);
    expect(() => loadConfig({ flags: parseFlags(["--dev", "--presence-ttl-seconds", "-3"]) })).toThrow(/--presence-ttl-seconds: must be a non-negative number/);
  });

  it("bounds what the Kafka and RabbitMQ brokers hold, by default as their constructors did", () => {
    const c = loadConfig({ flags: parseFlags(["--dev"]) });
    expect(c).toMatchObject({
      kafkaMaxPending: 10_000,
      kafkaMaxPendingBytes: 64 * 1024 * 1024,
      amqpMaxQueueLength: 100_000,
      amqpMaxQueueBytes: 128 * 1024 * 1024,
      amqpMaxPending: 10_000,
      amqpMaxPendingBytes: 64 * 1024 * 1024,
    });
  });

  it("takes the broker bounds from flags, env and file", () => {
    const flags = loadConfig({
      flags: parseFlags([
        "--dev",
        "--kafka-max-pending", "500",
        "--kafka-max-pending-bytes=1048576",
        "--amqp-max-queue-length", "2000",
        "--amqp-max-queue-bytes", "8388608",
        "--amqp-max-pending", "300",
        "--amqp-max-pending-bytes", "2097152",
      ]),
    });
    expect(flags).toMatchObject({
      kafkaMaxPending: 500,
      kafkaMaxPendingBytes: 1048576,
      amqpMaxQueueLength: 2000,
      amqpMaxQueueBytes: 8388608,
      amqpMaxPending: 300,
      amqpMaxPendingBytes: 2097152,
    });

    const env = loadConfig({
      env: {
        REALTIME_DEV: "true",
        REALTIME_KAFKA_MAX_PENDING: "501",
        REALTIME_KAFKA_MAX_PENDING_BYTES: "1048577",
        REALTIME_AMQP_MAX_QUEUE_LENGTH: "2001",
        REALTIME_AMQP_MAX_QUEUE_BYTES: "8388609",
        REALTIME_AMQP_MAX_PENDING: "301",
        REALTIME_AMQP_MAX_PENDING_BYTES: "2097153",
      },
    });
    expect(env).toMatchObject({
      kafkaMaxPending: 501,
      kafkaMaxPendingBytes: 1048577,
      amqpMaxQueueLength: 2001,
      amqpMaxQueueBytes: 8388609,
      amqpMaxPending: 301,
      amqpMaxPendingBytes: 2097153,
    });

    const file = join(dir, "bounds.yaml");
    writeFileSync(
      file,
      "apiKey: k\nkafkaMaxPending: 502\nkafkaMaxPendingBytes: 1048578\namqpMaxQueueLength: 2002\n" +
        "amqpMaxQueueBytes: 8388610\namqpMaxPending: 302\namqpMaxPendingBytes: 2097154\n",
    );
    const fromFile = loadConfig({ flags: parseFlags(["--config", file]), env: { REALTIME_AMQP_MAX_PENDING: "303" } });
    expect(fromFile).toMatchObject({
      kafkaMaxPending: 502,
      kafkaMaxPendingBytes: 1048578,
      amqpMaxQueueLength: 2002,
      amqpMaxQueueBytes: 8388610,
      amqpMaxPending: 303,
      amqpMaxPendingBytes: 2097154,
    });
  });

  it("bounds what the Redis and NATS brokers leave unanswered: defaults, flags, env, file", () => {
    expect(loadConfig({ flags: parseFlags(["--dev"]) })).toMatchObject({
      redisMaxPending: 10_000,
      redisMaxPendingBytes: 64 * 1024 * 1024,
      natsMaxPending: 10_000,
      natsMaxPendingBytes: 64 * 1024 * 1024,
    });
    const flags = loadConfig({
      flags: parseFlags(["--dev", "--redis-max-pending", "700", "--redis-max-pending-bytes=1048576", "--nats-max-pending", "800", "--nats-max-pending-bytes", "2097152"]),
    });
    expect(flags).toMatchObject({ redisMaxPending: 700, redisMaxPendingBytes: 1048576, natsMaxPending: 800, natsMaxPendingBytes: 2097152 });
    const env = loadConfig({
      env: {
        REALTIME_DEV: "true",
        REALTIME_REDIS_MAX_PENDING: "701",
        REALTIME_REDIS_MAX_PENDING_BYTES: "1048577",
        REALTIME_NATS_MAX_PENDING: "801",
        REALTIME_NATS_MAX_PENDING_BYTES: "2097153",
      },
    });
    expect(env).toMatchObject({ redisMaxPending: 701, redisMaxPendingBytes: 1048577, natsMaxPending: 801, natsMaxPendingBytes: 2097153 });
    const file = join(dir, "redis-nats-bounds.yaml");
    writeFileSync(file, "apiKey: k\nredisMaxPending: 702\nredisMaxPendingBytes: 1048578\nnatsMaxPending: 802\nnatsMaxPendingBytes: 2097154\n");
    // Precedence as everywhere: flags > env > file.
    const fromFile = loadConfig({ flags: parseFlags(["--config", file, "--nats-max-pending", "900"]), env: { REALTIME_REDIS_MAX_PENDING: "703", REALTIME_NATS_MAX_PENDING: "803" } });
    expect(fromFile).toMatchObject({ redisMaxPending: 703, redisMaxPendingBytes: 1048578, natsMaxPending: 900, natsMaxPendingBytes: 2097154 });
  });

  it("refuses a bad Redis or NATS bound, naming it", () => {
    expect(() => loadConfig({ flags: parseFlags(["--dev", "--redis-max-pending", "lots"]) })).toThrow(/--redis-max-pending: must be a non-negative number/);
    expect(() => loadConfig({ env: { REALTIME_DEV: "1", REALTIME_NATS_MAX_PENDING_BYTES: "-1" } })).toThrow(/REALTIME_NATS_MAX_PENDING_BYTES: must be a non-negative number/);
    const file = join(dir, "bad-redis-bounds.yaml");
    writeFileSync(file, "apiKey: k\nredisMaxPendingBytes: 64MiB\n");
    expect(() => loadConfig({ flags: parseFlags(["--config", file]) })).toThrow(/config file: redisMaxPendingBytes: must be a non-negative number/);
    expect(() => loadConfig({ flags: parseFlags(["--dev", "--redis-max-pending", "0"]) })).toThrow(/redisMaxPending: must be a whole number of at least 1/);
    expect(() => loadConfig({ flags: parseFlags(["--dev", "--nats-max-pending", "2.5"]) })).toThrow(/natsMaxPending: must be a whole number of at least 1/);
    expect(() => loadConfig({ flags: parseFlags(["--dev", "--broker", "redis", "--redis-max-pending-bytes", "1000"]) })).toThrow(/redisMaxPendingBytes: must be at least 4259840 bytes/);
    expect(() => loadConfig({ flags: parseFlags(["--dev", "--broker", "nats", "--nats-max-pending-bytes", "65536"]) })).toThrow(/natsMaxPendingBytes: must be at least 4259840 bytes/);
    expect(() => loadConfig({ flags: parseFlags(["--dev", "--redis-max-pending-bytes", "0"]) })).toThrow(/redisMaxPendingBytes: must be a whole number of bytes, at least 1/);
    expect(loadConfig({ flags: parseFlags(["--dev", "--broker", "nats", "--nats-max-pending-bytes", "4259840", "--nats-max-pending", "1"]) })).toMatchObject({ natsMaxPendingBytes: 4259840, natsMaxPending: 1 });
  });

  it("refuses a bad broker bound, naming it", () => {
    expect(() => loadConfig({ flags: parseFlags(["--dev", "--kafka-max-pending", "lots"]) })).toThrow(/--kafka-max-pending: must be a non-negative number/);
    expect(() => loadConfig({ env: { REALTIME_DEV: "1", REALTIME_AMQP_MAX_QUEUE_BYTES: "-1" } })).toThrow(/REALTIME_AMQP_MAX_QUEUE_BYTES: must be a non-negative number/);
    const file = join(dir, "bad-bounds.yaml");
    writeFileSync(file, "apiKey: k\namqpMaxPendingBytes: 64MiB\n");
    expect(() => loadConfig({ flags: parseFlags(["--config", file]) })).toThrow(/config file: amqpMaxPendingBytes: must be a non-negative number/);
    expect(() => loadConfig({ flags: parseFlags(["--dev", "--amqp-max-pending", "0"]) })).toThrow(/amqpMaxPending: must be a whole number of at least 1/);
    expect(() => loadConfig({ flags: parseFlags(["--dev", "--amqp-max-queue-length", "1.5"]) })).toThrow(/amqpMaxQueueLength: must be a whole number/);
    expect(() => loadConfig({ flags: parseFlags(["--dev", "--broker", "kafka", "--kafka-max-pending-bytes", "1000"]) })).toThrow(/kafkaMaxPendingBytes: must be at least 4259840 bytes/);
    expect(() => loadConfig({ flags: parseFlags(["--dev", "--amqp-max-queue-bytes", "2.5"]) })).toThrow(/amqpMaxQueueBytes: must be a whole number of bytes/);
  });

  describe("broker byte bounds hold the largest publish the hub accepts", () => {
    const MIN = 4 * 1024 * 1024 + 64 * 1024; // max(64 KiB, 4 MiB API body) + 64 KiB headroom
    const BOUNDS = {
      redis: ["redisMaxPendingBytes"],
      nats: ["natsMaxPendingBytes"],
      kafka: ["kafkaMaxPendingBytes"],
      rabbitmq: ["amqpMaxQueueBytes", "amqpMaxPendingBytes"],
    } as const;
    const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

    it("the limit is the HTTP API's body limit", () => {
      expect(MAX_PUBLISH_BYTES).toBe(4 * 1024 * 1024);
      expect(MAX_API_BODY_BYTES).toBe(MAX_PUBLISH_BYTES);
    });

    for (const [broker, keys] of Object.entries(BOUNDS)) {
      it(`${broker}: defaults pass, one byte below the minimum is refused naming key and minimum, the minimum passes`, () => {
        expect(loadConfig({ flags: parseFlags(["--dev", "--broker", broker]) }).broker).toBe(broker);
        for (const key of keys) {
          const flag = `--${kebab(key)}`;
          expect(() => loadConfig({ flags: parseFlags(["--dev", "--broker", broker, flag, String(MIN - 1)]) })).toThrow(
            new RegExp(`${key}: must be at least ${MIN} bytes with broker ${broker}.*got ${MIN - 1}`),
          );
          expect(() => loadConfig({ flags: parseFlags(["--dev", "--broker", broker, flag, String(64 * 1024)]) })).toThrow(ConfigError);
          expect(loadConfig({ flags: parseFlags(["--dev", "--broker", broker, flag, String(MIN)]) })[key]).toBe(MIN);
        }
      });
    }

    it("a --max-message-bytes above 4 MiB raises the minimum to it plus 64 KiB", () => {
      const big = 8 * 1024 * 1024;
      const flags = ["--dev", "--broker", "kafka", "--max-message-bytes", String(big)];
      expect(() => loadConfig({ flags: parseFlags([...flags, "--kafka-max-pending-bytes", String(big)]) })).toThrow(
        new RegExp(`kafkaMaxPendingBytes: must be at least ${big + 64 * 1024} bytes`),
      );
      expect(loadConfig({ flags: parseFlags([...flags, "--kafka-max-pending-bytes", String(big + 64 * 1024)]) }).kafkaMaxPendingBytes).toBe(big + 64 * 1024);
      // A frame bigger than the 64 MiB defaults: fine with the memory broker...
      const huge = ["--dev", "--max-message-bytes", String(128 * 1024 * 1024)];
      expect(loadConfig({ flags: parseFlags(huge) }).maxMessageBytes).toBe(128 * 1024 * 1024);
      // ...but a broker's default bound is then too small, and the error says which.
      expect(() => loadConfig({ flags: parseFlags([...huge, "--broker", "redis"]) })).toThrow(/redisMaxPendingBytes: must be at least 134283264 bytes/);
    });

    it("only the selected broker's bounds are held to the minimum", () => {
      const c = loadConfig({ flags: parseFlags(["--dev", "--broker", "nats", "--redis-max-pending-bytes", "1000", "--amqp-max-queue-bytes", "1000"]) });
      expect(c).toMatchObject({ redisMaxPendingBytes: 1000, amqpMaxQueueBytes: 1000 });
      expect(() => loadConfig({ env: { REALTIME_DEV: "1", REALTIME_BROKER: "rabbitmq", REALTIME_AMQP_MAX_QUEUE_BYTES: "1000" } })).toThrow(/amqpMaxQueueBytes: must be at least 4259840 bytes/);
    });
  });

  it("refuses an idempotency window that is not a whole number of at least 1 second, naming it", () => {
    expect(loadConfig({ flags: parseFlags(["--dev"]) }).idempotencyWindowSeconds).toBe(300);
    expect(loadConfig({ flags: parseFlags(["--dev", "--idempotency-window-seconds", "1"]) }).idempotencyWindowSeconds).toBe(1);
    for (const bad of ["0", "0.5", "2.5"])
      expect(() => loadConfig({ flags: parseFlags(["--dev", "--idempotency-window-seconds", bad]) })).toThrow(
        /idempotencyWindowSeconds: must be a whole number of at least 1/,
      );
    expect(() => loadConfig({ flags: parseFlags(["--dev", "--idempotency-window-seconds", "-1"]) })).toThrow(/--idempotency-window-seconds: must be a non-negative number/);
    expect(() => loadConfig({ overrides: { dev: true, idempotencyWindowSeconds: -5 } })).toThrow(/idempotencyWindowSeconds: must be a whole number of at least 1/);
    const file = join(dir, "idem.yaml");
    writeFileSync(file, "apiKey: k\nidempotencyWindowSeconds: 0\n");
    expect(() => loadConfig({ flags: parseFlags(["--config", file]) })).toThrow(/idempotencyWindowSeconds: must be a whole number of at least 1/);
  });

  describe("the settings table", () => {
    const entries = Object.entries(SETTINGS) as [string, Setting][];
    const defaultOf = (s: Setting) => (typeof s.default === "function" ? s.default() : s.default);

    it("gives every setting a flag, an env var, a default of its kind and one line of doc", () => {
      const docs = settingDocs();
      expect(docs.map((d) => d.key)).toEqual(["config", ...SCALAR_KEYS]);
      expect(new Set(docs.map((d) => d.flag)).size).toBe(docs.length);
      expect(new Set(docs.map((d) => d.env)).size).toBe(docs.length);
      for (const d of docs) {
        expect(d.flag).toBe(`--${kebab(d.key)}`);
        expect(d.env).toBe(envName(d.key));
        expect(d.flag).toMatch(/^--[a-z][a-z0-9-]*$/);
        expect(d.env).toMatch(/^REALTIME_[A-Z0-9_]+$/);
        expect(d.default, d.key).not.toBe("");
        expect(d.doc, d.key).toMatch(/^[^|\n]+$/);
      }
      for (const [key, s] of [...entries, ...(Object.entries(NAMESPACE_SETTINGS) as [string, Setting][])]) {
        const value = defaultOf(s);
        expect(coerce(key, s.kind, value), key).toBe(value);
      }
    });

    it("gives the defaults: each setting's own, a generated node id, the namespace defaults", () => {
      const a = defaultConfig();
      expect(Object.keys(a).sort()).toEqual([...SCALAR_KEYS, "channelDefaults", "namespaces"].sort());
      for (const [key, s] of entries) if (key !== "nodeId") expect(a[key as keyof typeof a], key).toBe(s.default);
      expect(a.nodeId).toMatch(/^[0-9a-f]{12}$/);
      expect(defaultConfig().nodeId).not.toBe(a.nodeId);
      expect(a).toMatchObject({ maxConnections: 0, apiKey: "", logLevel: "info", kafkaCreateTopics: true, broker: "memory", namespaces: [] });
      expect(a.channelDefaults).toEqual(defaultNamespace());
      expect(defaultNamespace("chat")).toEqual({
        name: "chat",
        historySize: 0,
        historyTtlSeconds: 300,
        presence: false,
        joinLeave: false,
        allowPublish: false,
        private: false,
        subscribeProxy: "",
        subRefreshProxy: "",
        publishProxy: "",
        rpcProxy: "",
        unsubscribeProxy: "",
      });
      expect(settingDocs().find((d) => d.key === "nodeId")?.default).toBe("random");
      expect(settingDocs().find((d) => d.key === "apiKey")?.default).toBe("none");
      expect(settingDocs().find((d) => d.key === "maxConnections")?.default).toBe("0 (no cap)");
      expect(settingDocs().find((d) => d.key === "allowAnonymous")?.default).toBe("false (--dev: true)");
    });

    it("reads every setting from its flag, its env var and its config file key, and refuses a value of the wrong kind naming the source", () => {
      const file = join(dir, "each.yaml");
      for (const [key, s] of entries) {
        const value = key === "nodeId" ? "n-1" : defaultOf(s);
        const text = String(value);
        const flag = `--${kebab(key)}`;
        // --dev (or, to test --dev itself, --insecure-api) lets the hub start without an API key.
        const base = key === "dev" ? { overrides: { insecureApi: true } } : {};
        const dev = key === "dev" ? [] : ["--dev"];
        const got = (c: ReturnType<typeof loadConfig>) => c[key as keyof typeof c];
        if (text !== "") {
          expect(got(loadConfig({ ...base, flags: parseFlags([...dev, `${flag}=${text}`]) })), flag).toEqual(value);
          expect(got(loadConfig({ ...base, flags: parseFlags(dev), env: { [envName(key)]: text } })), envName(key)).toEqual(value);
        }
        writeFileSync(file, JSON.stringify({ [key]: value }));
        expect(got(loadConfig({ ...base, flags: parseFlags([...dev, "--config", file]) })), key).toEqual(value);
        const bad = s.kind === "number" ? [/must be a non-negative number/, "lots"] : s.kind === "boolean" ? [/must be true or false/, "maybe"] : typeof s.kind !== "string" ? [/must be one of/, "nope"] : undefined;
        if (!bad) continue;
        const [message, raw] = bad as [RegExp, string];
        expect(() => loadConfig({ flags: parseFlags(["--dev", `${flag}=${raw}`]) })).toThrow(new RegExp(`${flag}: ${message.source}`));
        expect(() => loadConfig({ flags: parseFlags(["--dev"]), env: { [envName(key)]: raw } })).toThrow(new RegExp(`${envName(key)}: ${message.source}`));
        writeFileSync(file, JSON.stringify({ [key]: raw }));
        expect(() => loadConfig({ flags: parseFlags(["--dev", "--config", file]) })).toThrow(new RegExp(`config file: ${key}: ${message.source}`));
      }
    });
  });

  it("puts the --dev overrides between the file and the defaults", () => {
    expect(loadConfig({ flags: parseFlags(["--dev"]) })).toMatchObject({ allowAnonymous: true, allowUnknownNamespaces: true, insecureApi: true });
    expect(loadConfig({ env: { REALTIME_DEV: "true" } }).allowAnonymous).toBe(true);
    expect(loadConfig({ flags: parseFlags(["--dev", "--allow-anonymous", "false"]) }).allowAnonymous).toBe(false);
    expect(loadConfig({ flags: parseFlags(["--dev"]), env: { REALTIME_ALLOW_ANONYMOUS: "false" } }).allowAnonymous).toBe(false);
    const file = join(dir, "dev.yaml");
    writeFileSync(file, "allowUnknownNamespaces: false\nchannelDefaults: { historySize: 5 }\n");
    const c = loadConfig({ flags: parseFlags(["--dev", "--config", file]) });
    expect(c.allowUnknownNamespaces).toBe(false);
    expect(c.allowAnonymous).toBe(true);
    // The file's channelDefaults start from what --dev turned on.
    expect(c.channelDefaults).toMatchObject({ historySize: 5, presence: true, joinLeave: true, allowPublish: true });
    // Outside --dev none of it applies.
    expect(loadConfig({ env: { REALTIME_API_KEY: "k" } })).toMatchObject({ allowAnonymous: false, insecureApi: false, channelDefaults: defaultNamespace() });
    expect(loadConfig({ flags: parseFlags(["--dev", "false"]), env: { REALTIME_API_KEY: "k" } }).dev).toBe(false);
  });

  it("keeps presence and history with a Redis broker unless they are set", () => {
    expect(loadConfig({ flags: parseFlags(["--dev", "--broker", "redis"]) })).toMatchObject({ presence: "redis", history: "redis" });
    expect(loadConfig({ flags: parseFlags(["--dev", "--broker", "redis", "--presence", "memory"]) })).toMatchObject({ presence: "memory", history: "redis" });
    expect(loadConfig({ flags: parseFlags(["--dev"]), env: { REALTIME_BROKER: "redis", REALTIME_HISTORY: "memory" } })).toMatchObject({ presence: "redis", history: "memory" });
    expect(loadConfig({ flags: parseFlags(["--dev", "--broker", "redis"]), overrides: { presence: "memory" } })).toMatchObject({ presence: "memory", history: "redis" });
    const file = join(dir, "redis.yaml");
    writeFileSync(file, "broker: redis\nhistory: memory\n");
    expect(loadConfig({ flags: parseFlags(["--dev", "--config", file]) })).toMatchObject({ broker: "redis", presence: "redis", history: "memory" });
    expect(loadConfig({ flags: parseFlags(["--dev", "--broker", "nats"]) })).toMatchObject({ presence: "memory", history: "memory" });
  });

  describe("the shared flag parser", () => {
    const spec = { user: "string", verbose: "boolean", tokenHmacSecret: "string" } as const;

    it("takes --key value, --key=value, a bare boolean and --boolean true|false", () => {
      expect(parseArgv(["--user", "42", "--token-hmac-secret=a=b", "--verbose"], spec)).toEqual({ user: "42", tokenHmacSecret: "a=b", verbose: true });
      expect(parseArgv(["--verbose", "false", "--user", "7"], spec)).toEqual({ verbose: "false", user: "7" });
      expect(parseArgv([], spec)).toEqual({});
    });

    it("names an unknown flag, a flag without its value and a stray argument, after the command", () => {
      expect(() => parseArgv(["--usr", "42"], spec, "token")).toThrow(new ConfigError("token: unknown flag --usr"));
      expect(() => parseArgv(["--user"], spec, "token")).toThrow(new ConfigError("token: flag --user needs a value"));
      expect(() => parseArgv(["42"], spec, "token")).toThrow(new ConfigError('token: unexpected argument "42"'));
      expect(() => parseFlags(["--http-addr"])).toThrow(new ConfigError("flag --http-addr needs a value"));
      expect(() => parseFlags(["--constructor", "x"])).toThrow(new ConfigError("unknown flag --constructor"));
    });

    it("refuses a config file key that only an object has (constructor, toString)", () => {
      const file = join(dir, "proto.yaml");
      writeFileSync(file, "apiKey: k\nconstructor: 1\n");
      expect(() => loadConfig({ flags: parseFlags(["--config", file]) })).toThrow(/unknown key "constructor"/);
      writeFileSync(file, "apiKey: k\nnamespaces: [{ name: a, toString: 1 }]\n");
      expect(() => loadConfig({ flags: parseFlags(["--config", file]) })).toThrow(/namespaces\[0\]\.toString: unknown key/);
    });
  });
});

describe("webhook settings", () => {
  const base = { apiKey: "k" };
  it("refuses HTTP webhooks without proxySecret outside --dev, naming them", () => {
    expect(() => loadConfig({ overrides: { ...base, proxyConnectUrl: "http://app/connect" } })).toThrow(/^proxySecret: .*proxyConnectUrl/);
    expect(() => loadConfig({ overrides: { ...base, namespaces: [{ ...defaultNamespace("chat"), publishProxy: "https://app/publish" }] } })).toThrow(
      /^proxySecret: .*chat\.publishProxy/,
    );
    expect(loadConfig({ overrides: { ...base, proxyConnectUrl: "http://app/connect", proxySecret: "s" } }).proxySecret).toBe("s");
    // gRPC webhooks are not signed (use grpcs://), and --dev only warns.
    expect(loadConfig({ overrides: { ...base, proxyConnectUrl: "grpc://app:9000" } }).proxyConnectUrl).toBe("grpc://app:9000");
    expect(loadConfig({ overrides: { dev: true, proxyConnectUrl: "http://app/connect" } }).proxySecret).toBe("");
  });
});
