import { afterEach, describe, expect, it } from "vitest";
import { Disconnect, disconnectShutdown } from "../../src/errors.js";
import { DisconnectCode } from "../../src/gen/realtime/v1/types.js";
import { Frame, publicationFrame } from "../../src/protocol/frame.js";
import type { Transport } from "../../src/transport.js";
import { until } from "../helpers/until.js";

/**
 * A transport on the server side of a real loopback connection, and the client at the other
 * end, as the contract sees them.
 */
export interface TransportPeer {
  readonly transport: Transport;
  /** The JSON text of every frame the client received, in order of arrival. */
  readonly received: readonly string[];
  /** True once the client saw the stream end (socket closed, response ended, session gone). */
  ended(): boolean;
  /** The client stops reading; resolves once nothing more is being read (long-polling: no poll outstanding). */
  pause(): Promise<void>;
  /** The client reads again. */
  resume(): void;
  /** The client goes away without a word; the returned promise resolves once the server side noticed. */
  vanish(): Promise<void>;
  /**
   * Errors the server side emitted that the edge leaves unhandled (an 'error' on a
   * ServerResponse, say): each would crash the hub. The harness records them instead.
   */
  faults(): readonly unknown[];
  /** Releases the client, the server and their sockets. */
  dispose(): Promise<void>;
}

const KiB = 1024;
const MiB = 1024 * KiB;
/** Queued bytes that show a client is not reading (well above what one flush leaves in flight). */
const STUCK_BYTES = 2 * MiB;
/** Written to a paused client before giving up on queuedBytes() ever showing it (kernel buffers hold a few MiB). */
const FILL_CAP = 64 * MiB;
/** Draining a few MiB over loopback takes milliseconds; this is for a loaded 2-core machine. */
const DRAIN_MS = 20_000;

/** One macrotask: frames written before it have been flushed (the WebSocket batch runs in setImmediate). */
const turn = () => new Promise<void>((r) => setImmediate(r));

let seq = 0;
const channel = (s: string) => `tc-${s}-${process.pid}-${++seq}`;

function pub(ch: string, data: Buffer, offset = "0", epoch = ""): Frame {
  return publicationFrame(ch, { data, offset, epoch, tags: {}, info: undefined, time: "1763860000000" });
}
const jsonPub = (ch: string, value: unknown, offset = "0", epoch = "") => pub(ch, Buffer.from(JSON.stringify(value)), offset, epoch);
/** A ~64 KiB publication numbered n (every one distinct, so order and loss show). */
const bigFrame = (ch: string, n: number) => jsonPub(ch, { n, fill: "x".repeat(64 * KiB) });
const text = (f: Frame) => f.json().toString("utf8");

/** Frames of every shape a session writes, with the contents that trip framing. */
function variedFrames(ch: string): Frame[] {
  const info = { user: "42", client: "c1", connInfo: Buffer.from('{"name":"Zoë"}'), chanInfo: Buffer.alloc(0) };
  return [
    new Frame({ id: 0, error: undefined }), // ping: {}
    new Frame({ id: 4, error: { code: 103, message: 'clients may not publish into "news"', temporary: false } }),
    jsonPub(ch, { text: "hi" }),
    // Line breaks and SSE field names inside data: still one frame, one line, one event.
    jsonPub(ch, { s: "line\nbreak\r\n\r\ndata: not an event\n\nid: x:y:1\n" }),
    jsonPub(ch, { s: "é 日本 😀 \u2028\u2029 \u0000 \"quoted\" \\ /" }),
    pub(ch, Buffer.from([0xff, 0xfe, 0x0a, 0x0d, 0x00])), // not JSON: b64data
    jsonPub(ch, { at: 8 }, "8", "x1"), // with a stream position (SSE id)
    jsonPub(ch, { big: "y".repeat(256 * KiB) + "😀" }), // larger than one socket read
    new Frame({ id: 0, error: undefined, push: { channel: ch, join: { info } } }),
    new Frame({ id: 0, error: undefined, push: { channel: ch, unsubscribe: { code: 2000, reason: "unsubscribed by the server" } } }),
    jsonPub(ch, [1, [2, [3, { deep: true }]]]),
  ];
}

/** The disconnect push as the protocol spells it (docs/protocol.md, "Replies and pushes"). */
function disconnectText(d: Disconnect): string {
  return text(new Frame({ id: 0, error: undefined, push: { channel: "", disconnect: { code: d.code, reason: d.reason, reconnect: d.reconnect } } }));
}

function isDisconnect(line: string): boolean {
  try {
    return JSON.parse(line)?.push?.disconnect !== undefined;
  } catch {
    return false;
  }
}

/** `line` is the disconnect push for `d`, field by field (clearer failures) and byte for byte. */
function expectDisconnect(line: string | undefined, d: Disconnect): void {
  expect(line, "the disconnect push").toBeDefined();
  const push = JSON.parse(line!).push;
  expect(push, `a push, got ${clip(line)}`).toBeDefined();
  expect(push.channel ?? "").toBe("");
  expect(push.disconnect?.code).toBe(d.code);
  expect(push.disconnect?.reason ?? "").toBe(d.reason);
  expect(push.disconnect?.reconnect ?? false).toBe(d.reconnect);
  expect(line).toBe(disconnectText(d));
}

const clip = (s: string | undefined) => (s === undefined ? "nothing" : s.length > 160 ? `${s.slice(0, 160)}… (${s.length} chars)` : s);

/** Same frames in the same order; on failure names the first difference instead of diffing megabytes. */
function expectFrames(got: readonly string[], want: readonly string[]): void {
  const n = Math.min(got.length, want.length);
  for (let i = 0; i < n; i++)
    if (got[i] !== want[i]) throw new Error(`frame ${i} of ${want.length} differs:\n  got  ${clip(got[i])}\n  want ${clip(want[i])}`);
  if (got.length !== want.length)
    throw new Error(`got ${got.length} frames, want ${want.length}; first ${got.length > want.length ? "extra" : "missing"}: ${clip(got[n] ?? want[n])}`);
}

/**
 * Writes ~64 KiB frames to a client that does not read until queuedBytes() still holds
 * STUCK_BYTES after the frames were handed on (a turn later); returns the JSON written.
 */
async function fillUntilStuck(t: Transport, ch: string, first: number): Promise<string[]> {
  const written: string[] = [];
  let bytes = 0;
  while (bytes < FILL_CAP) {
    for (let i = 0; i < 4; i++) {
      const f = bigFrame(ch, first + written.length);
      t.write(f);
      written.push(text(f));
      bytes += f.json().length;
    }
    await turn();
    await turn();
    if (t.queuedBytes() >= STUCK_BYTES) return written;
  }
  throw new Error(`queuedBytes() is ${t.queuedBytes()} after ${bytes} bytes were written to a client that does not read`);
}

export interface TransportContractOptions {
  /**
   * Checks this implementation is known to fail (id -> the bug, as reported): they run as
   * it.fails, so the suite stays green until the bug is fixed, then fails until the entry goes.
   */
  knownViolations?: Record<string, string>;
}

/**
 * The Transport contract (src/transport.ts), run against every implementation over real
 * loopback sockets. `create` returns a fresh, connected transport with its client reading.
 */
export function transportContract(name: Transport["name"], create: () => Promise<TransportPeer>, opts: TransportContractOptions = {}): void {
  describe(`Transport contract: ${name}`, () => {
    const known = opts.knownViolations ?? {};
    const ids = new Set<string>();
    /** An `it` with an id; a known violation runs as it.fails, so it turns red once fixed. */
    function check(id: string, title: string, fn: () => Promise<void>): void {
      ids.add(id);
      const bug = known[id];
      if (bug) it.fails(`${title} [known violation: ${bug}]`, fn);
      else it(title, fn);
    }
    const peers: TransportPeer[] = [];
    afterEach(async () => {
      const faults: unknown[] = [];
      for (const p of peers.splice(0)) {
        faults.push(...p.faults());
        await p.dispose();
      }
      expect(faults.map(String), "errors left to crash the hub").toEqual([]);
    });
    /** A code ws refuses in a close frame (a backend's Disconnect may name any number). */
    const uncarriable = new Disconnect(5000 as DisconnectCode, "any number a backend chose");
    async function peer(): Promise<TransportPeer> {
      const p = await create();
      peers.push(p);
      return p;
    }

    check("name", `is named "${name}" and is bidirectional only for WebSocket`, async () => {
      const { transport } = await peer();
      expect(transport.name).toBe(name);
      expect(transport.bidirectional).toBe(name === "websocket");
    });

    check("intact", "delivers every frame intact: the same JSON text per frame, in order", async () => {
      const p = await peer();
      const frames = variedFrames(channel("intact"));
      for (const f of frames) {
        p.transport.write(f);
        await turn();
      }
      const want = frames.map(text);
      await until(() => p.received.length >= want.length, { what: `${want.length} frames` });
      expectFrames(p.received, want);
    });

    check("order", "keeps the order of frames written across many event-loop turns", async () => {
      const p = await peer();
      const ch = channel("order");
      const want: string[] = [];
      for (let i = 0; i < 300; i++) {
        const f = jsonPub(ch, { i }, String(i + 1), "e1");
        p.transport.write(f);
        want.push(text(f));
        if (i % 7 === 0) await turn();
        if (i % 50 === 0) await new Promise((r) => setTimeout(r, 1));
      }
      await until(() => p.received.length >= want.length, { what: "300 frames" });
      expectFrames(p.received, want);
    });

    check("one-turn", "delivers frames written within one event-loop turn as the same frames (batching keeps them apart)", async () => {
      const p = await peer();
      const frames = [...variedFrames(channel("turn")), ...Array.from({ length: 500 }, (_, i) => jsonPub(channel("turn"), { i }))];
      for (const f of frames) p.transport.write(f);
      const want = frames.map(text);
      await until(() => p.received.length >= want.length, { what: `${want.length} frames` });
      expectFrames(p.received, want);
    });

    check("shared-frame", "delivers one Frame written twice, and to two transports, whole every time (shared bytes are not consumed)", async () => {
      const a = await peer();
      const b = await peer();
      const f = jsonPub(channel("shared"), { shared: "😀".repeat(1000) }, "3", "e");
      a.transport.write(f);
      b.transport.write(f);
      a.transport.write(f);
      await turn();
      b.transport.write(f);
      await until(() => a.received.length >= 2 && b.received.length >= 2);
      expectFrames(a.received, [text(f), text(f)]);
      expectFrames(b.received, [text(f), text(f)]);
    });

    const disconnects: Array<[string, string, Disconnect]> = [
      ["shutdown", "shutdown (reconnect)", disconnectShutdown],
      ["no-reconnect", "do not reconnect, non-ASCII reason", new Disconnect(DisconnectCode.DISCONNECT_CODE_FORCE_NO_RECONNECT, "kicked: ünïcødé 🚪")],
      ["long-reason", "a reason longer than a WebSocket close frame holds", new Disconnect(DisconnectCode.DISCONNECT_CODE_FORCE_RECONNECT, "reason ".repeat(20) + "日本語".repeat(30))],
      ["uncarriable-code", "a code no WebSocket close frame can carry", uncarriable],
    ];
    for (const [key, what, d] of disconnects)
      check(`close-push/${key}`, `close(d) sends the disconnect push last, after the frames written before, then ends the stream: ${what}`, async () => {
        const p = await peer();
        const ch = channel("close");
        const early = jsonPub(ch, { early: true });
        p.transport.write(early);
        await until(() => p.received.length === 1);
        // Written in the same turn as close(): still accepted, so still delivered, before the push.
        const sameTurn = [jsonPub(ch, { a: 1 }), jsonPub(ch, { b: 2 }), bigFrame(ch, 3)];
        for (const f of sameTurn) p.transport.write(f);
        expect(() => p.transport.close(d)).not.toThrow();
        await until(() => p.ended(), { what: "the end of the stream after close()" });
        expectFrames(p.received.slice(0, -1), [early, ...sameTurn].map(text));
        expectDisconnect(p.received.at(-1), d);
      });

    const whileBehind: Array<[string, string, Disconnect]> = [
      ["slow", "slow", new Disconnect(DisconnectCode.DISCONNECT_CODE_SLOW, "slow: outgoing queue full")],
      ["uncarriable-code", "a code no WebSocket close frame can carry", uncarriable],
    ];
    for (const [key, what, d] of whileBehind)
      check(`close-behind/${key}`, `close(d) while the client is behind on reading: once it reads, it gets every frame accepted, then the push: ${what}`, async () => {
        const p = await peer();
        const ch = channel("close-behind");
        const hello = jsonPub(ch, { hello: true });
        p.transport.write(hello);
        await until(() => p.received.length === 1);
        await p.pause();
        const written = await fillUntilStuck(p.transport, ch, 1);
        expect(() => p.transport.close(d)).not.toThrow();
        p.resume();
        await until(() => p.ended(), { ms: DRAIN_MS, what: "the end of the stream after close()" });
        expectFrames(p.received.slice(0, -1), [text(hello), ...written]);
        expectDisconnect(p.received.at(-1), d);
      });

    check("close-idempotent", "close() is idempotent: a second close sends nothing more", async () => {
      const p = await peer();
      const first = new Disconnect(DisconnectCode.DISCONNECT_CODE_FORCE_NO_RECONNECT, "first");
      const second = new Disconnect(DisconnectCode.DISCONNECT_CODE_SHUTDOWN, "second");
      p.transport.close(first);
      expect(() => p.transport.close(second)).not.toThrow();
      await turn();
      expect(() => p.transport.close(second)).not.toThrow();
      await until(() => p.ended(), { what: "the end of the stream after close()" });
      expect(p.transport.queuedBytes()).toBeGreaterThanOrEqual(0);
      expect(p.received.filter(isDisconnect)).toHaveLength(1);
      expectFrames(p.received, [disconnectText(first)]);
    });

    check("close-twice-behind", "a second close() does not cut short the first: a client behind on reading still gets everything, then one push", async () => {
      const p = await peer();
      const ch = channel("close-twice");
      const hello = jsonPub(ch, { hello: true });
      p.transport.write(hello);
      await until(() => p.received.length === 1);
      await p.pause();
      const written = await fillUntilStuck(p.transport, ch, 1);
      const first = new Disconnect(DisconnectCode.DISCONNECT_CODE_SLOW, "slow");
      p.transport.close(first);
      p.transport.close(disconnectShutdown);
      p.resume();
      await until(() => p.ended(), { ms: DRAIN_MS, what: "the end of the stream after close()" });
      expectFrames(p.received.slice(0, -1), [text(hello), ...written]);
      expectDisconnect(p.received.at(-1), first);
    });

    check("nothing-after-close", "delivers nothing after close(): writes in the same turn, later turns and after the end are dropped", async () => {
      const p = await peer();
      const ch = channel("after-close");
      const d = new Disconnect(DisconnectCode.DISCONNECT_CODE_NORMAL, "normal");
      const before = jsonPub(ch, { before: true });
      p.transport.write(before);
      p.transport.close(d);
      expect(() => p.transport.write(jsonPub(ch, { sameTurn: true }))).not.toThrow();
      await turn();
      expect(() => p.transport.write(jsonPub(ch, { nextTurn: true }))).not.toThrow();
      await until(() => p.ended(), { what: "the end of the stream after close()" });
      expect(() => p.transport.write(jsonPub(ch, { afterEnd: true }))).not.toThrow();
      expectFrames(p.received, [text(before), disconnectText(d)]);
    });

    check("client-gone", "write() and close() never throw when the client went away, noticed or not yet", async () => {
      const p = await peer();
      const ch = channel("gone");
      p.transport.write(jsonPub(ch, { hello: true }));
      await until(() => p.received.length === 1);
      const noticed = p.vanish();
      // The server side most likely has not seen the reset yet: writes meet a dead socket.
      for (let i = 0; i < 16; i++) expect(() => p.transport.write(bigFrame(ch, i))).not.toThrow();
      await noticed;
      for (let i = 0; i < 16; i++) expect(() => p.transport.write(bigFrame(ch, 16 + i))).not.toThrow();
      await turn();
      expect(Number.isFinite(p.transport.queuedBytes())).toBe(true);
      expect(() => p.transport.close(disconnectShutdown)).not.toThrow();
      expect(() => p.transport.close(disconnectShutdown)).not.toThrow();
      expect(() => p.transport.write(jsonPub(ch, { afterClose: true }))).not.toThrow();
      await turn();
      await turn();
    });

    check("queued-bytes", "queuedBytes() grows while the client does not read, and returns to 0 once it reads", async () => {
      const p = await peer();
      const t = p.transport;
      const ch = channel("queued");
      const hello = jsonPub(ch, { hello: true });
      t.write(hello);
      await until(() => p.received.length === 1);
      await until(() => t.queuedBytes() === 0, { what: "queuedBytes() at 0 once an idle client read everything" });
      await p.pause();
      const written = await fillUntilStuck(t, ch, 1);
      // The client is stuck: each frame accepted now is queued whole, at once (write never blocks).
      for (let i = 0; i < 3; i++) {
        const before = t.queuedBytes();
        const f = bigFrame(ch, 1 + written.length);
        t.write(f);
        written.push(text(f));
        expect(t.queuedBytes()).toBeGreaterThanOrEqual(before + f.json().length);
      }
      p.resume();
      await until(() => t.queuedBytes() === 0, { ms: DRAIN_MS, what: `queuedBytes() back to 0 (now ${t.queuedBytes()})` });
      await until(() => p.received.length >= written.length + 1, { ms: DRAIN_MS, what: `${written.length + 1} frames` });
      expectFrames(p.received, [text(hello), ...written]);
    });

    const unknown = Object.keys(known).filter((id) => !ids.has(id));
    if (unknown.length) throw new Error(`knownViolations names checks that do not exist: ${unknown.join(", ")}`);
  });
}
