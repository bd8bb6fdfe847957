import { describe, expect, it } from "vitest";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig, parseFlags } from "../../src/config.js";

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
});
