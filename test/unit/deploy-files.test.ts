import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { envName, SCALAR_KEYS, loadConfig } from "../../src/config.js";

const root = new URL("../../", import.meta.url);
const read = (p: string) => readFileSync(new URL(p, root), "utf8");

/** No Docker engine runs here, so the compose file's structure is checked instead. */
describe("docker-compose.yml", () => {
  const compose = parse(read("docker-compose.yml"), { merge: true });
  const known = new Set([...SCALAR_KEYS, "config"].map(envName));
  const hubs = ["hub1", "hub2", "hub3"];

  it("has three hub nodes, Redis, NATS and Kafka (KRaft)", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["hub1", "hub2", "hub3", "kafka", "nats", "redis"]);
    expect(compose.services.kafka.environment.KAFKA_PROCESS_ROLES).toBe("broker,controller");
  });

  it("gives each hub its own host ports and a distinct node id", () => {
    const ports = hubs.flatMap((h) => compose.services[h].ports.map((p: string) => p.split(":")[0]));
    expect(new Set(ports).size).toBe(ports.length);
    expect(new Set(hubs.map((h) => compose.services[h].environment.REALTIME_NODE_ID)).size).toBe(3);
    for (const h of hubs) expect(compose.services[h].build).toBe(".");
  });

  it("sets only real config keys, with values the hub accepts", () => {
    for (const h of hubs) {
      const env = compose.services[h].environment as Record<string, string>;
      for (const key of Object.keys(env)) expect(known, `${h}: ${key} is not a config key`).toContain(key);
      const mount = compose.services[h].volumes.find((v: string) => v.endsWith(`:${env.REALTIME_CONFIG}:ro`));
      expect(mount, `${h}: the config file is mounted`).toBeDefined();
      const cfg = loadConfig({ env: { ...env, REALTIME_CONFIG: fileURLToPath(new URL(mount.split(":")[0], root)) } });
      expect(cfg.broker).toBe("redis");
      // Shared presence and history are what the cluster is for: the file turns them on.
      expect(cfg.namespaces.find((n) => n.name === "chat")).toMatchObject({ presence: true, joinLeave: true, allowPublish: true, historySize: 100 });
      expect(cfg.httpAddr).toBe("0.0.0.0:8080");
      expect(compose.services[h].ports.map((p: string) => p.split(":")[1])).toEqual(["8080", "50051"]);
    }
  });

  it("points the hubs at services that exist", () => {
    const env = compose.services.hub1.environment;
    expect(env.REALTIME_REDIS_URL).toMatch(/\/\/redis:/);
    expect(env.REALTIME_NATS_URL).toMatch(/\/\/nats:/);
    expect(env.REALTIME_KAFKA_BROKERS).toMatch(/^kafka:/);
  });
});

describe("Dockerfile", () => {
  const df = read("Dockerfile");
  it("builds in two stages and runs as a non-root user with a health check", () => {
    expect(df.match(/^FROM /gm)?.length).toBe(2);
    expect(df).toMatch(/^USER node$/m);
    expect(df).toMatch(/^HEALTHCHECK .*\n.*\/health/m);
    expect(df).toMatch(/npm prune --omit=dev/);
  });
});
