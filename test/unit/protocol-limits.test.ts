import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { defaultConfig, MAX_PUBLISH_BYTES } from "../../src/config.js";
import { MAX_PENDING_COMMANDS } from "../../src/session.js";
import { MAX_CHANNEL_LENGTH } from "../../src/channel.js";
import { MAX_DATA_DEPTH } from "../../src/protocol/codec.js";
import { MAX_CHANNELS_PER_REQUEST } from "../../src/api/server-api.js";
import { MAX_IDEMPOTENCY_KEY_BYTES } from "../../src/idempotency/idempotency-store.js";
import { MAX_CHANNELS_PATTERN_LENGTH } from "../../src/channels-query.js";
import { MAX_IN_FLIGHT } from "../../src/grpc/hub-service.js";
import { MAX_CALLS_PER_WORKER } from "../../src/rpc/rpc-workers.js";

/** The table rows of docs/protocol.md's Limits section. */
function limitRows(): string[] {
  const doc = readFileSync(new URL("../../docs/protocol.md", import.meta.url), "utf8");
  const start = doc.indexOf("## Limits");
  expect(start).toBeGreaterThanOrEqual(0);
  const end = doc.indexOf("\n## ", start + 1);
  return doc.slice(start, end).split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| ---"));
}

const KiB = 1024;
const MiB = 1024 * 1024;
const size = (n: number) => (n % MiB === 0 ? `${n / MiB} MiB` : n % KiB === 0 ? `${n / KiB} KiB` : String(n));
const count = (n: number) => n.toLocaleString("en-US");

describe("docs/protocol.md Limits", () => {
  const cfg = defaultConfig();
  // [words of the row's first column, what the row must say] for every limit the code enforces.
  const limits: Array<[string, string[]]> = [
    ["size of one WebSocket frame", ["`maxMessageBytes`", size(cfg.maxMessageBytes)]],
    ["commands in flight", [String(MAX_PENDING_COMMANDS)]],
    ["time from opening a connection", [`${2 * cfg.pingIntervalSeconds} s`]],
    ["channels one connection subscribes to", ["`maxChannelsPerClient`", String(cfg.maxChannelsPerClient)]],
    ["commands one connection sends per second", ["`clientCommandRate`", "`clientCommandBurst`", "error 111", "close 3501"]],
    ["publishes one connection sends per second", ["`clientPublishRate`", "`clientPublishBurst`", "error 111", "3501"]],
    ["connections of one user", ["`maxConnectionsPerUser`", "`presenceTtlSeconds`", "error 106", "close 3505", "HTTP 429"]],
    ["channel name", [String(MAX_CHANNEL_LENGTH)]],
    ["nesting of JSON `data`", [`${MAX_DATA_DEPTH} levels`]],
    ["bytes waiting for a client", ["`clientQueueMaxBytes`", size(cfg.clientQueueMaxBytes)]],
    ["connections on one node", ["`maxConnections`", "3014"]],
    ["connections from one IP address", ["`maxConnectionsPerIp`", "3505"]],
    ["time to send an HTTP request's headers", ["`httpHeadersTimeoutSeconds`", `${cfg.httpHeadersTimeoutSeconds} s`]],
    ["time to send a whole HTTP request", ["`httpBodyTimeoutSeconds`", `${cfg.httpHeadersTimeoutSeconds + cfg.httpBodyTimeoutSeconds} s`]],
    ["wait of one long poll", ["`longPollTimeoutSeconds`", `${cfg.longPollTimeoutSeconds} s`]],
    ["one request (HTTP API body", [size(MAX_PUBLISH_BYTES)]],
    ["channels in one `Broadcast`", [String(MAX_CHANNELS_PER_REQUEST)]],
    ["`idempotencyKey`", [`${MAX_IDEMPOTENCY_KEY_BYTES} bytes`]],
    ["`Channels` pattern", [`${MAX_CHANNELS_PATTERN_LENGTH} characters`]],
    ["publishes of one `PublishStream`", [String(MAX_IN_FLIGHT)]],
    ["events a `Subscribe` stream", [count(cfg.subscribeBacklogMaxEvents), size(cfg.subscribeBacklogMaxBytes)]],
    ["calls one `HandleRpc` worker has unanswered", [count(MAX_CALLS_PER_WORKER)]],
    ["time a `HandleRpc` worker has to answer", ["`rpcTimeoutMs`", `${cfg.rpcTimeoutMs / 1000} s`]],
  ];

  it.each(limits)("states %s with its value", (label, says) => {
    const row = limitRows().find((r) => r.split("|")[1]!.includes(label));
    expect(row, label).toBeDefined();
    for (const s of says) expect(row, label).toContain(s);
  });
});
