import { pino } from "pino";
import { loadConfig, type Config } from "../../src/config.js";
import { MemoryBroker, MemoryBus } from "../../src/broker/memory.js";
import { MemoryPresenceStore } from "../../src/presence/memory.js";
import { MemoryHistoryStore } from "../../src/history/memory.js";
import { HubNode, type NodeDeps } from "../../src/node.js";
import { Session } from "../../src/session.js";
import { TokenVerifier } from "../../src/auth/jwt.js";
import { FakeTransport } from "./fake-transport.js";

/** A started node with memory stores and no sockets. */
export async function createTestNode(overrides: Partial<Config> = {}, bus?: MemoryBus, deps: Partial<NodeDeps> = {}): Promise<HubNode> {
  const config = loadConfig({ overrides: { dev: true, logLevel: "silent", ...overrides } });
  const node = new HubNode({
    config,
    broker: new MemoryBroker(bus),
    presence: new MemoryPresenceStore(),
    history: new MemoryHistoryStore(),
    // Nodes on one bus keep separate histories, so offsets differ between them.
    sharedHistory: !bus,
    log: pino({ level: "silent" }),
    ...deps,
  });
  await node.start();
  return node;
}

/** A session on a fake transport. */
export function createTestSession(node: HubNode, secret = "") {
  const transport = new FakeTransport();
  // A secret given here replaces the config's token keys (tests that mint their own tokens).
  const verifier = TokenVerifier.fromConfig(secret ? { ...node.config, tokenHmacSecret: secret } : node.config);
  const session = new Session(node, transport, verifier);
  return { session, transport, send: (obj: unknown) => session.handleFrame(JSON.stringify(obj)) };
}
