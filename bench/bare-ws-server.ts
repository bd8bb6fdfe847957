/**
 * The ceiling: a bare `ws` server that answers the same handshake as the hub (minimal
 * connect and subscribe replies, in one frame) and broadcasts the same push bytes the hub
 * sends — `{"push":{"channel":"bench","pub":{"data":{...},"time":"..."}}}` — encoded once per
 * message as one Buffer and `ws.send(buf)` to every client. It generates the messages
 * itself at the rate it is told over IPC (paced by elapsed time, checked every 10 ms), so
 * whatever the hub does beyond this (gRPC in, routing, session bookkeeping) costs throughput.
 *
 * BARE_WS_BATCHED=0: one WebSocket message per publication (plain `ws` broadcasting).
 * BARE_WS_BATCHED=1: the messages of one 10 ms tick joined by newlines into one WebSocket
 * message, one Buffer for all clients: the same coalescing the hub does per connection
 * per event-loop turn, hence the like-for-like ceiling.
 */
import { WebSocketServer, type WebSocket } from "ws";
import { payload } from "./payload.js";

export type BareCommand = { type: "rate"; rate: number; payload: string } | { type: "close" };

const BATCHED = process.env.BARE_WS_BATCHED === "1";
const TEXT = { binary: false } as const;
const clients = new Set<WebSocket>();
let seq = 0;

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
wss.on("connection", (ws) => {
  ws.on("message", (d) => {
    if (clients.has(ws)) return; // pongs
    const s = (d as Buffer).toString(); // text frames: ws hands over one Buffer
    if (s.includes('"connect"') && s.includes('"subscribe"')) {
      ws.send('{"id":1,"connect":{"client":"bare","version":"0","ping":25}}\n{"id":2,"subscribe":{}}', TEXT);
      clients.add(ws);
    }
  });
  ws.on("close", () => clients.delete(ws));
  ws.on("error", () => undefined);
});
wss.on("listening", () => process.send!({ type: "listening", port: (wss.address() as { port: number }).port }));

let timer: NodeJS.Timeout | undefined;

process.on("message", (cmd: BareCommand) => {
  if (cmd.type === "close") process.exit(0);
  clearInterval(timer);
  if (!cmd.rate) return;
  const { rate, payload: filler } = cmd;
  let credit = 0;
  let last = performance.now();
  timer = setInterval(() => {
    const t = performance.now();
    credit += (rate * (t - last)) / 1000;
    last = t;
    const lines: string[] = [];
    for (; credit >= 1; credit--) lines.push(`{"push":{"channel":"bench","pub":{"data":${payload(++seq, filler)},"time":"${Date.now()}"}}}`);
    if (lines.length === 0) return;
    if (BATCHED) {
      const buf = Buffer.from(lines.join("\n"));
      for (const ws of clients) ws.send(buf, TEXT);
    } else {
      for (const line of lines) {
        const buf = Buffer.from(line);
        for (const ws of clients) ws.send(buf, TEXT);
      }
    }
  }, 10);
});
process.on("disconnect", () => process.exit(0));
