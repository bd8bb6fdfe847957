import http from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MAX_EMULATION_COMMANDS } from "../../src/transport/emulation.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";

/** Commands of SSE and long-poll sessions: POST /connection/emulation, replies on the stream. */

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub({ maxMessageBytes: 2048 });
});
afterAll(async () => {
  await hub?.stop();
});

interface SseEvent {
  event?: string;
  id?: string;
  data: any;
}

/** An SSE stream that records every event (named ones too), pings left out. */
class SseStream {
  readonly events: SseEvent[] = [];
  private req: http.ClientRequest | null = null;
  private waiters: Array<() => void> = [];
  ended = false;

  static open(url: string): Promise<SseStream> {
    const s = new SseStream();
    return new Promise((resolve, reject) => {
      s.req = http.get(url, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`SSE status ${res.statusCode}`));
        let buf = "";
        res.on("data", (chunk: Buffer) => {
          buf += chunk.toString();
          let i;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const ev: SseEvent = { data: null };
            for (const line of block.split("\n")) {
              if (line.startsWith("event: ")) ev.event = line.slice(7);
              if (line.startsWith("id: ")) ev.id = line.slice(4);
              if (line.startsWith("data: ")) ev.data = JSON.parse(line.slice(6));
            }
            if (ev.data && Object.keys(ev.data).length === 0) continue;
            s.events.push(ev);
            for (const w of s.waiters.splice(0)) w();
          }
        });
        res.on("end", () => {
          s.ended = true;
          for (const w of s.waiters.splice(0)) w();
        });
        resolve(s);
      });
      s.req.on("error", reject);
    });
  }

  /** The first event matching `pred`, within 5 s. */
  async waitFor(pred: (e: SseEvent) => boolean, what = "event"): Promise<SseEvent> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const found = this.events.find(pred);
      if (found) return found;
      if (this.ended) throw new Error(`stream ended without ${what}; got ${JSON.stringify(this.events)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within 5 s; got ${JSON.stringify(this.events)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  close(): void {
    this.req?.destroy();
  }
}

const streams: SseStream[] = [];
afterEach(() => {
  for (const s of streams.splice(0)) s.close();
});

/** An SSE session that asked for its secret, with its session event read. */
async function sseSession(channel: string, h = hub): Promise<{ stream: SseStream; client: string; secret: string }> {
  const stream = await SseStream.open(`${h.httpUrl}/connection/sse?channel=${encodeURIComponent(channel)}&emulation=1`);
  streams.push(stream);
  const session = await stream.waitFor((e) => e.event === "session", "session event");
  await stream.waitFor((e) => e.data?.id === 1, "subscribe reply");
  return { stream, client: session.data.client, secret: session.data.secret };
}

function post(client: string, secret: string, body: string, h = hub, headers: Record<string, string> = {}): Promise<Response> {
  const url = `${h.httpUrl}/connection/emulation?client=${encodeURIComponent(client)}&secret=${encodeURIComponent(secret)}`;
  return fetch(url, { method: "POST", body, headers: { "Content-Type": "text/plain", ...headers } });
}

const lines = (...cmds: unknown[]) => cmds.map((c) => JSON.stringify(c)).join("\n");

describe("commands over SSE", () => {
  it("the session event comes first, and only when asked; the connect reply names the same client", async () => {
    const { stream, client, secret } = await sseSession("emu:first");
    expect(stream.events[0]!.event).toBe("session");
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(stream.events[1]!.data.connect.client).toBe(client);
    const plain = await SseStream.open(`${hub.httpUrl}/connection/sse?channel=emu:first`);
    streams.push(plain);
    await plain.waitFor((e) => e.data?.id === 1, "subscribe reply");
    expect(plain.events.some((e) => e.event !== undefined)).toBe(false);
  });

  it("a command's reply arrives on the stream, and its publication too", async () => {
    const { stream, client, secret } = await sseSession("emu:pub");
    const res = await post(client, secret, lines({ id: 100, publish: { channel: "emu:pub", data: { n: 1 } } }));
    expect(res.status).toBe(204);
    const reply = await stream.waitFor((e) => e.data?.id === 100, "publish reply");
    expect(reply.data.publish).toEqual({ offset: "1", epoch: expect.any(String) });
    const pub = await stream.waitFor((e) => e.data?.push?.pub !== undefined, "publication");
    expect(pub.data.push.pub.data).toEqual({ n: 1 });
  });

  it("subscribe, presence, history, unsubscribe and rpc after connect; commands answered in order", async () => {
    const { stream, client, secret } = await sseSession("emu:order");
    const res = await post(
      client,
      secret,
      lines(
        { id: 101, subscribe: { channel: "emu:order2" } },
        { id: 102, publish: { channel: "emu:order2", data: { n: 2 } } },
        { id: 103, presence: { channel: "emu:order2" } },
        { id: 104, history: { channel: "emu:order2", limit: 10 } },
        { id: 105, unsubscribe: { channel: "emu:order2" } },
        { id: 106, rpc: { method: "nothing-serves-this", data: {} } },
        { id: 107, ping: {} },
      ),
    );
    expect(res.status).toBe(204);
    await stream.waitFor((e) => e.data?.id === 107, "last reply");
    const replies = stream.events.filter((e) => e.data?.id >= 100).map((e) => e.data);
    expect(replies.map((r) => r.id)).toEqual([101, 102, 103, 104, 105, 106, 107]);
    expect(replies[2].presence.presence[client]).toMatchObject({ client });
    expect(replies[3].history.publications.map((p: any) => p.data)).toEqual([{ n: 2 }]);
    expect(replies[5].error.code).toBe(104);
    // The publication of the channel it subscribed to came between the replies, on the stream.
    expect(stream.events.some((e) => e.data?.push?.channel === "emu:order2" && e.data.push.pub?.data?.n === 2)).toBe(true);
  });

  it("keeps the order across many requests sent one after the other", async () => {
    const { stream, client, secret } = await sseSession("emu:seq");
    for (let i = 0; i < 20; i++) {
      const res = await post(client, secret, lines({ id: 200 + 2 * i, publish: { channel: "emu:seq", data: { i } } }, { id: 201 + 2 * i, ping: {} }));
      expect(res.status).toBe(204);
    }
    await stream.waitFor((e) => e.data?.id === 239, "last reply");
    const ids = stream.events.filter((e) => e.data?.id >= 200).map((e) => e.data.id);
    expect(ids).toEqual(Array.from({ length: 40 }, (_, i) => 200 + i));
    const pubs = stream.events.filter((e) => e.data?.push?.pub).map((e) => e.data.push.pub.data.i);
    expect(pubs).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it("a wrong secret, an unknown client and a closed session get 404, like each other", async () => {
    const { client, secret, stream } = await sseSession("emu:404");
    const cmd = lines({ id: 1, ping: {} });
    const wrong = await post(client, secret.slice(0, -1) + (secret.endsWith("A") ? "B" : "A"), cmd);
    expect(wrong.status).toBe(404);
    const unknown = await post("nope", secret, cmd);
    expect(unknown.status).toBe(404);
    expect(await wrong.json()).toEqual(await unknown.json());
    expect((await post(client, "", cmd)).status).toBe(404);
    stream.close();
    await until(async () => (await post(client, secret, cmd)).status === 404);
  });

  it("bad lines are refused with 400 before any of the request runs; a bad field is answered on the stream", async () => {
    const { stream, client, secret } = await sseSession("emu:400");
    for (const bad of ["not json", "[1]", '{"publish":{"channel":"emu:400"}}', '{"id":-1,"ping":{}}']) {
      const res = await post(client, secret, lines({ id: 300, publish: { channel: "emu:400", data: 1 } }) + "\n" + bad);
      expect(res.status, bad).toBe(400);
      expect((await res.json()).error).toMatchObject({ code: 107, message: expect.stringMatching(/line 2/) });
    }
    const ok = await post(client, secret, lines({ id: 301, history: { channel: "emu:400", limit: "x" } }, { id: 302, ping: {} }));
    expect(ok.status).toBe(204);
    await stream.waitFor((e) => e.data?.id === 302, "ping reply");
    expect(stream.events.find((e) => e.data?.id === 301)!.data.error.code).toBe(107);
    // Nothing of the refused requests ran: no reply 300, no publication, the session is open.
    expect(stream.events.some((e) => e.data?.id === 300 || e.data?.push?.pub)).toBe(false);
  });

  it("too many lines or a line larger than maxMessageBytes: 413, nothing runs", async () => {
    const { stream, client, secret } = await sseSession("emu:413");
    const many = lines(...Array.from({ length: MAX_EMULATION_COMMANDS + 1 }, (_, i) => ({ id: 400 + i, ping: {} })));
    const res1 = await post(client, secret, many);
    expect(res1.status).toBe(413);
    expect((await res1.json()).error.code).toBe(106);
    const big = lines({ id: 500, publish: { channel: "emu:413", data: "x".repeat(2100) } });
    const res2 = await post(client, secret, big);
    expect(res2.status).toBe(413);
    // 64 lines are fine.
    expect(MAX_EMULATION_COMMANDS).toBe(64);
    const res3 = await post(client, secret, lines(...Array.from({ length: MAX_EMULATION_COMMANDS }, (_, i) => ({ id: 600 + i, ping: {} }))));
    expect(res3.status).toBe(204);
    await stream.waitFor((e) => e.data?.id === 663, "last ping reply");
    expect(stream.events.some((e) => e.data?.id >= 400 && e.data.id < 600)).toBe(false);
  });

  it("only POST", async () => {
    const { client, secret } = await sseSession("emu:405");
    const res = await fetch(`${hub.httpUrl}/connection/emulation?client=${client}&secret=${secret}`);
    expect(res.status).toBe(405);
  });

  it("Origin rules as on the stream endpoints: a foreign origin is refused, an allowed one gets CORS", async () => {
    const h = await startTestHub({ allowedOrigins: "https://app.example.com" });
    try {
      const { client, secret } = await sseSession("emu:origin", h);
      const foreign = await post(client, secret, lines({ id: 1, ping: {} }), h, { Origin: "https://evil.example.com" });
      expect(foreign.status).toBe(403);
      const allowed = await post(client, secret, lines({ id: 1, ping: {} }), h, { Origin: "https://app.example.com" });
      expect(allowed.status).toBe(204);
      expect(allowed.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
      const pre = await fetch(`${h.httpUrl}/connection/emulation`, {
        method: "OPTIONS",
        headers: { Origin: "https://app.example.com", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type" },
      });
      expect(pre.status).toBe(204);
      expect(pre.headers.get("access-control-allow-methods")).toMatch(/POST/);
    } finally {
      for (const s of streams.splice(0)) s.close();
      await h.stop();
    }
  });

  it("clientCommandRate applies as over WebSocket: 111 past the bucket, 3501 at twice the rate", async () => {
    const h = await startTestHub({ clientCommandRate: 0.5, clientCommandBurst: 4 });
    try {
      const { stream, client, secret } = await sseSession("emu:rate", h);
      expect((await post(client, secret, lines(...[1, 2, 3, 4, 5, 6].map((id) => ({ id, ping: {} }))), h)).status).toBe(204);
      await stream.waitFor((e) => e.data?.id === 6, "sixth reply");
      const replies = stream.events.filter((e) => e.data?.id >= 1 && e.data.id <= 6 && e.event === undefined && !e.data.subscribe).map((e) => e.data);
      expect(replies.slice(0, 4).map((r) => r.ping)).toEqual([{}, {}, {}, {}]);
      expect(replies.slice(4).map((r) => r.error?.code)).toEqual([111, 111]);
      await post(client, secret, lines(...[7, 8, 9].map((id) => ({ id, ping: {} }))), h);
      const bye = await stream.waitFor((e) => e.data?.push?.disconnect !== undefined, "disconnect push");
      expect(bye.data.push.disconnect).toMatchObject({ code: 3501, reason: expect.stringMatching(/too many requests/) });
    } finally {
      for (const s of streams.splice(0)) s.close();
      await h.stop();
    }
  });
});

describe("commands over long-polling", () => {
  it("the poll secret sends commands; replies come with the next poll, in order", async () => {
    const first = await fetch(`${hub.httpUrl}/connection/poll?channel=emu:lp`);
    const secret = first.headers.get("X-Poll-Secret")!;
    const client = (await first.text()).split("\n").map((l) => (l ? JSON.parse(l) : {})).find((m) => m.connect).connect.client;
    const res = await post(
      client,
      secret,
      lines({ id: 10, publish: { channel: "emu:lp", data: { lp: 1 } } }, { id: 11, presenceStats: { channel: "emu:lp" } }, { id: 12, rpc: { method: "none", data: null } }),
    );
    expect(res.status).toBe(204);
    const got: any[] = [];
    const deadline = Date.now() + 5000;
    while (!got.some((m) => m.id === 12) && Date.now() < deadline) {
      const poll = await fetch(`${hub.httpUrl}/connection/poll?client=${client}&secret=${secret}&timeout=2`);
      expect(poll.status).toBe(200);
      for (const l of (await poll.text()).split("\n")) if (l) got.push(JSON.parse(l));
    }
    expect(got.filter((m) => m.id).map((m) => m.id)).toEqual([10, 11, 12]);
    expect(got.find((m) => m.id === 11).presenceStats).toEqual({ numClients: 1, numUsers: 1 });
    expect(got.find((m) => m.id === 12).error.code).toBe(104);
    expect(got.find((m) => m.push?.pub)?.push.pub.data).toEqual({ lp: 1 });
    expect((await post(client, "wrong", lines({ id: 13, ping: {} }))).status).toBe(404);
  });
});

async function until(cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}
