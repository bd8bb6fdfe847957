import http from "node:http";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryBus } from "../../src/broker/memory.js";
import { signToken } from "../../src/auth/jwt.js";
import { loadConfig } from "../../src/config.js";
import { FIREHOSE_CHANNEL, channelToTopic, topicToChannel } from "../../src/mercure/topic-channel.js";
import { updateTags } from "../../src/mercure/update.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { until } from "../helpers/until.js";
import { TestWsClient } from "../helpers/ws-client.js";

const SECRET = "mercure-test-secret";
let run = 0;
/** Topics of their own per test, so tests sharing a hub never see each other's updates. */
const topic = (name: string) => `https://example.com/t${++run}/${name}`;

function mercureJwt(claim: { publish?: string[]; subscribe?: string[] }, secret = SECRET): Promise<string> {
  return new SignJWT({ mercure: claim }).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(secret));
}

/** POST /.well-known/mercure as symfony/mercure does: a form, `topic` repeated, a Bearer JWT. */
async function publish(hub: TestHub, fields: [string, string][], jwt: string | undefined): Promise<{ status: number; body: string }> {
  const res = await fetch(`${hub.httpUrl}/.well-known/mercure`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", ...(jwt ? { Authorization: `Bearer ${jwt}` } : {}) },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: res.status, body: await res.text() };
}

interface MercureEvent {
  id?: string;
  event?: string;
  retry?: string;
  data: string;
}

/** A Mercure subscriber: GET /.well-known/mercure, the SSE stream read as an EventSource would. */
class MercureSubscriber {
  readonly events: MercureEvent[] = [];
  private constructor(private readonly req: http.ClientRequest) {}

  static open(hub: TestHub, topics: string[], opts: { headers?: Record<string, string>; query?: Record<string, string> } = {}): Promise<MercureSubscriber> {
    const q = new URLSearchParams([...topics.map((t): [string, string] => ["topic", t]), ...Object.entries(opts.query ?? {})]);
    return new Promise((resolve, reject) => {
      const req = http.get(`${hub.httpUrl}/.well-known/mercure?${q}`, { headers: opts.headers ?? {} }, (res) => {
        if (res.statusCode !== 200) {
          let body = "";
          res.on("data", (c) => (body += c));
          res.on("end", () => reject(Object.assign(new Error(`status ${res.statusCode}: ${body}`), { status: res.statusCode })));
          return;
        }
        expect(res.headers["content-type"]).toBe("text/event-stream");
        const sub = new MercureSubscriber(req);
        let buf = "";
        res.on("data", (chunk: Buffer) => {
          buf += chunk.toString("utf8");
          let i;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const ev: MercureEvent = { data: "" };
            const data: string[] = [];
            for (const line of block.split("\n")) {
              if (line.startsWith(":")) continue;
              const colon = line.indexOf(": ");
              const [field, value] = colon < 0 ? [line, ""] : [line.slice(0, colon), line.slice(colon + 2)];
              if (field === "data") data.push(value);
              else if (field === "id" || field === "event" || field === "retry") ev[field] = value;
            }
            if (data.length === 0) continue; // a heartbeat or the opening comment
            ev.data = data.join("\n");
            sub.events.push(ev);
          }
        });
        resolve(sub);
      });
      req.on("error", reject);
    });
  }

  async waitFor(count: number): Promise<MercureEvent[]> {
    await until(() => this.events.length >= count, { what: `${count} Mercure events (got ${JSON.stringify(this.events)})` });
    return this.events;
  }

  close(): void {
    this.req.destroy();
  }
}

describe("topic -> channel", () => {
  it("keeps readable IRIs readable, escapes the rest with ~XX, and reads it back", () => {
    expect(topicToChannel("https://example.com/books/1")).toBe("mercure:https://example.com/books/1");
    expect(topicToChannel("https://example.com/q?a=1&b=~x y#f")).toBe("mercure:https://example.com/q~3Fa=1~26b=~7Ex~20y~23f");
    expect(topicToChannel("urn:é")).toBe("mercure:urn:~C3~A9");
    for (const t of ["https://example.com/books/1", "https://example.com/q?a=1&b=~x y#f", "urn:é/%41", "ünïcödé 🙂"])
      expect(channelToTopic(topicToChannel(t))).toBe(t);
  });

  it("hashes a topic whose channel would be too long (the publication keeps the topic)", () => {
    const long = `https://example.com/${"é".repeat(200)}`;
    const c = topicToChannel(long);
    expect(c).toMatch(/^mercure:~h[0-9a-f]{64}$/);
    expect(channelToTopic(c)).toBeUndefined();
    expect(topicToChannel(`https://example.com/${"a".repeat(227)}`)).toHaveLength(255);
  });

  it("adds a mercure namespace with history when mercure is on, private outside --dev", () => {
    const prod = loadConfig({ overrides: { mercure: true, apiKey: "k" } });
    expect(prod.namespaces).toContainEqual(expect.objectContaining({ name: "mercure", historySize: 1000, historyTtlSeconds: 3600, private: true }));
    expect(loadConfig({ overrides: { apiKey: "k" } }).namespaces).toEqual([]);
    expect(() => loadConfig({ overrides: { mercure: true, apiKey: "k" }, file: { namespaces: [{ name: "mercure" }] } })).toThrow(/needs a historySize/);
  });
});

describe("Mercure hub protocol", () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub({ tokenHmacSecret: SECRET });
  });
  afterAll(async () => {
    await hub.stop();
  });

  it("publishes a form with a Bearer JWT: 200 with the id, to a WebSocket client of the channel and a Mercure subscriber", async () => {
    const book = topic("books/1");
    const alt = topic("authors/9");
    const ws = await TestWsClient.connect(hub.wsUrl);
    const sub = await MercureSubscriber.open(hub, [book, alt]);
    try {
      await ws.call({ subscribe: { channel: topicToChannel(book) } });
      const jwt = await mercureJwt({ publish: ["*"] });
      const r = await publish(hub, [["topic", book], ["topic", alt], ["data", '{"status":"OutOfStock"}'], ["type", "stock"], ["retry", "2500"]], jwt);
      expect(r.status).toBe(200);
      expect(r.body).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
      const pub = await ws.waitFor((m) => m.push?.pub);
      expect(pub.push).toMatchObject({
        channel: topicToChannel(book),
        pub: { data: { status: "OutOfStock" }, tags: { "mercure.id": r.body, "mercure.topics": JSON.stringify([book, alt]), "mercure.type": "stock", "mercure.retry": "2500" } },
      });
      // Subscribed to both topics, the update comes once.
      await sub.waitFor(1);
      await publish(hub, [["topic", alt], ["data", "line 1\nline 2"], ["id", "urn:my-id"]], jwt);
      const events = await sub.waitFor(2);
      expect(events).toEqual([
        { id: r.body, event: "stock", retry: "2500", data: '{"status":"OutOfStock"}' },
        { id: "urn:my-id", data: "line 1\nline 2" },
      ]);
    } finally {
      ws.close();
      sub.close();
    }
  });

  it("resumes from Last-Event-ID (header or lastEventID query) with what history holds after it", async () => {
    const t = topic("feed");
    const jwt = await mercureJwt({ publish: [t] });
    const ids: string[] = [];
    for (let i = 1; i <= 4; i++) ids.push((await publish(hub, [["topic", t], ["data", `u${i}`]], jwt)).body);
    const byHeader = await MercureSubscriber.open(hub, [t], { headers: { "Last-Event-ID": ids[1]! } });
    const byQuery = await MercureSubscriber.open(hub, [t], { query: { lastEventID: ids[2]! } });
    const fresh = await MercureSubscriber.open(hub, [t]);
    try {
      expect((await byHeader.waitFor(2)).map((e) => e.data)).toEqual(["u3", "u4"]);
      expect((await byQuery.waitFor(1)).map((e) => e.data)).toEqual(["u4"]);
      await publish(hub, [["topic", t], ["data", "u5"]], jwt);
      expect((await byHeader.waitFor(3)).map((e) => e.data)).toEqual(["u3", "u4", "u5"]);
      expect((await fresh.waitFor(1)).map((e) => e.data)).toEqual(["u5"]);
      expect(byQuery.events.map((e) => e.data)).toEqual(["u4", "u5"]);
    } finally {
      byHeader.close();
      byQuery.close();
      fresh.close();
    }
  });

  it("delivers a private update only to subscribers whose mercure.subscribe allows the topic (Bearer, cookie or query)", async () => {
    const t = topic("users/42/inbox");
    const base = t.slice(0, t.lastIndexOf("/users/"));
    const allowedJwt = await mercureJwt({ subscribe: [`${base}/users/{id}/inbox`] });
    const otherJwt = await mercureJwt({ subscribe: [`${base}/users/7/inbox`] });
    const anonymous = await MercureSubscriber.open(hub, [t]);
    const other = await MercureSubscriber.open(hub, [t], { headers: { Authorization: `Bearer ${otherJwt}` } });
    const byBearer = await MercureSubscriber.open(hub, [t], { headers: { Authorization: `Bearer ${allowedJwt}` } });
    const byCookie = await MercureSubscriber.open(hub, [t], { headers: { Cookie: `theme=dark; mercureAuthorization=${allowedJwt}` } });
    const byQuery = await MercureSubscriber.open(hub, [t], { query: { authorization: allowedJwt } });
    const subs = [anonymous, other, byBearer, byCookie, byQuery];
    try {
      const jwt = await mercureJwt({ publish: ["*"] });
      expect((await publish(hub, [["topic", t], ["data", "secret"], ["private", "on"]], jwt)).status).toBe(200);
      expect((await publish(hub, [["topic", t], ["data", "public"]], jwt)).status).toBe(200);
      for (const s of [byBearer, byCookie, byQuery]) expect((await s.waitFor(2)).map((e) => e.data)).toEqual(["secret", "public"]);
      for (const s of [anonymous, other]) expect((await s.waitFor(1)).map((e) => e.data)).toEqual(["public"]);
      await expect(MercureSubscriber.open(hub, [t], { headers: { Authorization: "Bearer not.a.jwt" } })).rejects.toMatchObject({ status: 401 });
    } finally {
      for (const s of subs) s.close();
    }
  });

  it("refuses a publish without a JWT (401), with a bad one (401), or for a topic its claim does not allow (403)", async () => {
    const t = topic("x");
    const form: [string, string][] = [["topic", t], ["data", "d"]];
    expect(await publish(hub, form, undefined)).toMatchObject({ status: 401, body: expect.stringContaining("JWT is required") });
    expect((await publish(hub, form, await mercureJwt({ publish: ["*"] }, "another-secret"))).status).toBe(401);
    expect((await publish(hub, form, "garbage")).status).toBe(401);
    expect(await publish(hub, form, await mercureJwt({ publish: [topic("other")] }))).toMatchObject({ status: 403, body: expect.stringContaining("mercure.publish") });
    expect((await publish(hub, form, await mercureJwt({ subscribe: ["*"] }))).status).toBe(403);
    // Every topic of the update must be allowed, not just the first.
    expect((await publish(hub, [...form, ["topic", topic("y")]], await mercureJwt({ publish: [t] }))).status).toBe(403);
    expect((await publish(hub, [["data", "no topic"]], await mercureJwt({ publish: ["*"] }))).status).toBe(400);
    expect((await publish(hub, [...form, ["id", "a\nretry: 1"]], await mercureJwt({ publish: ["*"] }))).status).toBe(400);
    const asJson = await fetch(`${hub.httpUrl}/.well-known/mercure`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    expect(asJson.status).toBe(415);
    await expect(MercureSubscriber.open(hub, [])).rejects.toMatchObject({ status: 400 });
    // Templates of operators past level 2 cannot be matched exactly: refused, not read too wide.
    await expect(MercureSubscriber.open(hub, ["https://example.com/books{/id}"])).rejects.toMatchObject({ status: 400 });
    await expect(MercureSubscriber.open(hub, ["https://example.com/books{?id}"])).rejects.toMatchObject({ status: 400 });
  });

  it("streams URI template and * selectors: {var} one segment, {+var} anything, * every topic", async () => {
    const base = topic("tpl");
    const jwt = await mercureJwt({ publish: ["*"] });
    const bySegment = await MercureSubscriber.open(hub, [`${base}/books/{id}`]);
    const byAnything = await MercureSubscriber.open(hub, [`${base}/{+rest}`]);
    const all = await MercureSubscriber.open(hub, ["*"]);
    const ws = await TestWsClient.connect(hub.wsUrl);
    try {
      // A WebSocket client can follow the firehose too (a private channel outside --dev).
      await ws.call({ subscribe: { channel: FIREHOSE_CHANNEL } });
      const ids: string[] = [];
      for (const [t, data] of [[`${base}/books/1`, "book 1"], [`${base}/books/1/reviews`, "reviews"], [`${base}/authors/2`, "author"], [`${base}/books/é`, "escaped"]])
        ids.push((await publish(hub, [["topic", t!], ["data", data!]], jwt)).body);
      // The last one marks the end: what came before it has come.
      await publish(hub, [["topic", `${base}/books/end`], ["data", "end"]], jwt);
      expect((await bySegment.waitFor(2)).map((e) => e.data)).toEqual(["book 1", "end"]);
      expect((await byAnything.waitFor(5)).map((e) => e.data)).toEqual(["book 1", "reviews", "author", "escaped", "end"]);
      await until(() => all.events.some((e) => e.data === "end"), { what: "the last update on *" });
      expect(all.events.filter((e) => ids.includes(e.id!)).map((e) => e.data)).toEqual(["book 1", "reviews", "author", "escaped"]);
      await until(() => ws.pubs(FIREHOSE_CHANNEL).length >= 5, { what: "5 updates on the firehose channel" });
      expect(ws.pubs(FIREHOSE_CHANNEL).map((p) => p.tags["mercure.id"]).slice(0, 4)).toEqual(ids);
    } finally {
      for (const s of [bySegment, byAnything, all]) s.close();
      ws.close();
    }
  });

  it("writes an update once per stream, whether it comes through exact topics, templates or both", async () => {
    const base = topic("once");
    const jwt = await mercureJwt({ publish: ["*"] });
    // Exact and template for the same topic; an exact topic and a template matching another topic of the update.
    const both = await MercureSubscriber.open(hub, [`${base}/a`, `${base}/{x}`, "*"]);
    const mixed = await MercureSubscriber.open(hub, [`${base}/a`, `${base}/b/{x}`]);
    try {
      const one = (await publish(hub, [["topic", `${base}/a`], ["data", "a"]], jwt)).body;
      const two = (await publish(hub, [["topic", `${base}/a`], ["topic", `${base}/b/1`], ["data", "a+b"]], jwt)).body;
      const three = (await publish(hub, [["topic", `${base}/b/2`], ["topic", `${base}/c`], ["data", "b only"]], jwt)).body;
      const end = (await publish(hub, [["topic", `${base}/a`], ["data", "end"]], jwt)).body;
      const mine = (s: MercureSubscriber) => s.events.filter((e) => [one, two, three, end].includes(e.id!));
      await until(() => mine(both).length >= 4 && mine(mixed).length >= 4, { what: "4 updates on both" });
      // A moment for a duplicate that would trail the last update.
      await new Promise((r) => setTimeout(r, 100));
      expect(mine(both).map((e) => e.data)).toEqual(["a", "a+b", "b only", "end"]);
      expect(mine(mixed).map((e) => e.data)).toEqual(["a", "a+b", "b only", "end"]);
    } finally {
      both.close();
      mixed.close();
    }
  });

  it("template subscribers get private updates only with a matching mercure.subscribe, and resume from the firehose", async () => {
    const base = topic("tpl-private");
    const jwt = await mercureJwt({ publish: ["*"] });
    const allowed = await mercureJwt({ subscribe: [`${base}/inbox/{id}`] });
    const anonymous = await MercureSubscriber.open(hub, [`${base}/inbox/{id}`]);
    const authorised = await MercureSubscriber.open(hub, [`${base}/inbox/{id}`], { query: { authorization: allowed } });
    try {
      const first = (await publish(hub, [["topic", `${base}/inbox/1`], ["data", "secret"], ["private", "on"]], jwt)).body;
      await publish(hub, [["topic", `${base}/inbox/2`], ["data", "public"]], jwt);
      expect((await authorised.waitFor(2)).map((e) => e.data)).toEqual(["secret", "public"]);
      expect((await anonymous.waitFor(1)).map((e) => e.data)).toEqual(["public"]);
      await new Promise((r) => setTimeout(r, 100));
      expect(anonymous.events.map((e) => e.data)).toEqual(["public"]);
      // Resume: history of the firehose, filtered like live updates.
      await publish(hub, [["topic", `${base}/inbox/3`], ["data", "later secret"], ["private", "on"]], jwt);
      await publish(hub, [["topic", `${base}/other/3`], ["data", "no match"]], jwt);
      const resumed = await MercureSubscriber.open(hub, [`${base}/inbox/{id}`], { headers: { "Last-Event-ID": first, Cookie: `mercureAuthorization=${allowed}` } });
      const resumedAnon = await MercureSubscriber.open(hub, [`${base}/inbox/{id}`], { query: { lastEventID: first } });
      try {
        expect((await resumed.waitFor(2)).map((e) => e.data)).toEqual(["public", "later secret"]);
        expect((await resumedAnon.waitFor(1)).map((e) => e.data)).toEqual(["public"]);
        await publish(hub, [["topic", `${base}/inbox/4`], ["data", "live"]], jwt);
        expect((await resumed.waitFor(3)).map((e) => e.data)).toEqual(["public", "later secret", "live"]);
        expect((await resumedAnon.waitFor(2)).map((e) => e.data)).toEqual(["public", "live"]);
      } finally {
        resumed.close();
        resumedAnon.close();
      }
    } finally {
      anonymous.close();
      authorised.close();
    }
  });

  it("publications of the server API into a mercure: channel reach exact subscribers, not template ones (they read the firehose)", async () => {
    const t = topic("api");
    const exact = await MercureSubscriber.open(hub, [t]);
    const tpl = await MercureSubscriber.open(hub, [`${t.slice(0, t.lastIndexOf("/"))}/{x}`]);
    try {
      const tags = updateTags({ id: "urn:from-api", topics: [t], data: "", private: false, type: "", retry: "" });
      await hub.api.publish({ channel: topicToChannel(t), data: Buffer.from("via api"), idempotencyKey: "", skipHistory: false, tags });
      await publish(hub, [["topic", t], ["data", "via mercure"]], await mercureJwt({ publish: ["*"] }));
      expect((await exact.waitFor(2)).map((e) => e.data)).toEqual(["via api", "via mercure"]);
      expect((await tpl.waitFor(1)).map((e) => e.data)).toEqual(["via mercure"]);
      await new Promise((r) => setTimeout(r, 100));
      expect(tpl.events).toHaveLength(1);
    } finally {
      exact.close();
      tpl.close();
    }
  });

  it("accepts a connection token's secret for both, and a WebSocket client of the channel needs no Mercure JWT in --dev", async () => {
    // The hub's token keys verify Mercure JWTs: a token minted like a connection token works.
    const t = topic("shared-key");
    const connToken = await signToken(SECRET, { sub: "u1" });
    const ws = await TestWsClient.connect(hub.wsUrl, connToken);
    try {
      await ws.call({ subscribe: { channel: topicToChannel(t) } });
      expect((await publish(hub, [["topic", t], ["data", "x"]], await mercureJwt({ publish: [t] }))).status).toBe(200);
      // Data that is not JSON travels as bytes (b64data in the JSON protocol).
      expect(Buffer.from((await ws.waitFor((m) => m.push?.pub)).push.pub.b64data, "base64").toString()).toBe("x");
    } finally {
      ws.close();
    }
  });
});

describe("Mercure across two nodes on one broker", () => {
  const bus = new MemoryBus();
  let a: TestHub;
  let b: TestHub;
  beforeAll(async () => {
    a = await startTestHub({ nodeId: "mercure-a", tokenHmacSecret: SECRET }, { bus });
    b = await startTestHub({ nodeId: "mercure-b", tokenHmacSecret: SECRET }, { bus });
  });
  afterAll(async () => {
    await a.stop();
    await b.stop();
  });

  it("an update published on node A reaches a Mercure subscriber and a WebSocket client on node B", async () => {
    const t = topic("cluster");
    const sub = await MercureSubscriber.open(b, [t]);
    const ws = await TestWsClient.connect(b.wsUrl);
    try {
      await ws.call({ subscribe: { channel: topicToChannel(t) } });
      const r = await publish(a, [["topic", t], ["data", "from a"]], await mercureJwt({ publish: ["*"] }));
      expect(r.status).toBe(200);
      expect(await sub.waitFor(1)).toEqual([{ id: r.body, data: "from a" }]);
      expect((await ws.waitFor((m) => m.push?.pub)).push.pub).toMatchObject({ b64data: Buffer.from("from a").toString("base64"), tags: { "mercure.id": r.body } });
    } finally {
      sub.close();
      ws.close();
    }
  });

  it("an update published on node A reaches a template subscriber on node B through the firehose", async () => {
    const t = topic("cluster-tpl");
    const sub = await MercureSubscriber.open(b, [`${t.slice(0, t.lastIndexOf("/"))}/{x}`]);
    try {
      const r = await publish(a, [["topic", t], ["data", "from a"]], await mercureJwt({ publish: ["*"] }));
      expect(await sub.waitFor(1)).toEqual([{ id: r.body, data: "from a" }]);
    } finally {
      sub.close();
    }
  });
});

describe("Mercure subscription events (mercureSubscriptions)", () => {
  const WATCH = "/.well-known/mercure/subscriptions/{topic}/{subscriber}";
  /** The Subscription documents a watcher read, but those of the watchers themselves. */
  const docs = (s: MercureSubscriber) => s.events.map((e) => JSON.parse(e.data) as Record<string, unknown>).filter((d) => d.topic !== WATCH);

  it("publish a private Subscription update when a subscriber comes and goes, only when turned on", async () => {
    const on = await startTestHub({ tokenHmacSecret: SECRET, mercureSubscriptions: true });
    const off = await startTestHub({ tokenHmacSecret: SECRET });
    const jwt = await mercureJwt({ subscribe: [WATCH] });
    try {
      const t = "https://example.com/q?a=1&b=é";
      const watcher = await MercureSubscriber.open(on, [WATCH], { query: { authorization: jwt } });
      const anonymous = await MercureSubscriber.open(on, [WATCH]);
      // Its own subscription, then the anonymous watcher's, are the watcher's first events.
      expect((await watcher.waitFor(2)).map((e) => JSON.parse(e.data))).toEqual([
        expect.objectContaining({ topic: WATCH, active: true }),
        expect.objectContaining({ topic: WATCH, active: true }),
      ]);
      const sub = await MercureSubscriber.open(on, [t, "https://example.com/{id}"]);
      await until(() => docs(watcher).length >= 2, { what: "2 subscription events" });
      const [exact, template] = docs(watcher);
      const subscriber = exact!.subscriber as string;
      expect(subscriber).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
      const idOf = (topic: string) => `/.well-known/mercure/subscriptions/${encodeURIComponent(topic)}/${encodeURIComponent(subscriber)}`;
      expect(exact).toEqual({ "@context": "https://mercure.rocks/", id: idOf(t), type: "Subscription", topic: t, subscriber, active: true });
      expect(template).toEqual({ "@context": "https://mercure.rocks/", id: idOf("https://example.com/{id}"), type: "Subscription", topic: "https://example.com/{id}", subscriber, active: true });
      expect(idOf(t)).toBe(`/.well-known/mercure/subscriptions/https%3A%2F%2Fexample.com%2Fq%3Fa%3D1%26b%3D%C3%A9/${encodeURIComponent(subscriber)}`);
      expect(watcher.events[2]!.id).toMatch(/^urn:uuid:/);
      sub.close();
      await until(() => docs(watcher).length >= 4, { what: "2 more subscription events" });
      expect(docs(watcher).slice(2)).toEqual([
        { ...exact, active: false },
        { ...template, active: false },
      ]);
      // Private: a watcher without the JWT sees none.
      await new Promise((r) => setTimeout(r, 100));
      expect(anonymous.events).toEqual([]);
      anonymous.close();
      watcher.close();

      // Off (the default): nothing is published.
      const offWatcher = await MercureSubscriber.open(off, [WATCH, "*"], { query: { authorization: await mercureJwt({ subscribe: ["*"] }) } });
      const offSub = await MercureSubscriber.open(off, [t]);
      offSub.close();
      await publish(off, [["topic", t], ["data", "marker"]], await mercureJwt({ publish: ["*"] }));
      expect((await offWatcher.waitFor(1)).map((e) => e.data)).toEqual(["marker"]);
      offWatcher.close();
    } finally {
      await on.stop();
      await off.stop();
    }
  });
});

describe("Mercure streams and the connection caps", () => {
  it("count against maxConnectionsPerIp like SSE streams, and give their slot back when they close", async () => {
    const hub = await startTestHub({ tokenHmacSecret: SECRET, maxConnectionsPerIp: 1 });
    try {
      const first = await MercureSubscriber.open(hub, ["https://example.com/capped"]);
      const refused = await MercureSubscriber.open(hub, ["https://example.com/capped"]).catch((e: { status?: number }) => e);
      expect((refused as { status?: number }).status).toBe(429);
      first.close();
      const again = await until(() => MercureSubscriber.open(hub, ["https://example.com/capped"]).catch(() => undefined));
      again.close();
    } finally {
      await hub.stop();
    }
  });

  it("count topics and selectors together against maxChannelsPerClient (429)", async () => {
    const hub = await startTestHub({ tokenHmacSecret: SECRET, maxChannelsPerClient: 2 });
    try {
      const ok = await MercureSubscriber.open(hub, ["https://example.com/a", "https://example.com/{x}"]);
      ok.close();
      await expect(MercureSubscriber.open(hub, ["https://example.com/a", "https://example.com/{x}", "*"])).rejects.toMatchObject({ status: 429 });
      await expect(MercureSubscriber.open(hub, ["https://example.com/a", "https://example.com/b", "https://example.com/c"])).rejects.toMatchObject({ status: 429 });
    } finally {
      await hub.stop();
    }
  });
});
