import { afterEach, describe, expect, it } from "vitest";
import { signToken } from "../../src/auth/jwt.js";
import { disconnectNormal } from "../../src/errors.js";
import type { HubNode } from "../../src/node.js";
import { TokenBucket } from "../../src/token-bucket.js";
import { ClientRates } from "../../src/client-rates.js";
import { createTestNode, createTestSession } from "../helpers/node.js";
import { ManualClock } from "../helpers/manual-clock.js";
import { eventually } from "../helpers/until.js";

const SECRET = "client-limits-secret";
let node: HubNode | undefined;
afterEach(async () => {
  await node?.shutdown();
  node = undefined;
});

/** A session connected as `user` (a token when given, else anonymous). */
async function connect(n: HubNode, user?: string) {
  const c = createTestSession(n, SECRET);
  c.send({ id: 1, connect: user ? { token: await signToken(SECRET, { sub: user }) } : {} });
  await eventually(() => expect(c.transport.frames.some((f) => f.id === 1)).toBe(true));
  return c;
}

describe("TokenBucket", () => {
  it("lets a burst through, then the rate", () => {
    const b = new TokenBucket(2, 3, 0);
    expect([b.take(0), b.take(0), b.take(0), b.take(0)]).toEqual([true, true, true, false]);
    expect(b.take(499)).toBe(false);
    expect(b.take(500)).toBe(true);
    // Never more than the burst, however long the wait.
    expect([b.take(60_000), b.take(60_000), b.take(60_000), b.take(60_000)]).toEqual([true, true, true, false]);
  });

  it("a clock stepping back neither refills nor drains it", () => {
    const b = new TokenBucket(1, 1, 10_000);
    expect(b.take(10_000)).toBe(true);
    expect(b.take(5_000)).toBe(false);
    expect(b.take(10_999)).toBe(false);
    expect(b.take(11_000)).toBe(true);
  });
});

describe("ClientRates", () => {
  const cfg = { clientCommandRate: 0, clientCommandBurst: 0, clientPublishRate: 0, clientPublishBurst: 0 };

  it("no rates: everything passes", () => {
    const r = new ClientRates(cfg, 0);
    for (let i = 0; i < 10_000; i++) expect(r.check(i % 2 === 0, 0)).toBe("ok");
  });

  it("burst 0 is one second's worth; twice the rate is a flood", () => {
    const r = new ClientRates({ ...cfg, clientCommandRate: 3 }, 0);
    expect([1, 2, 3, 4, 5, 6, 7].map(() => r.check(false, 0))).toEqual(["ok", "ok", "ok", "command_rate", "command_rate", "command_rate", "rate_flood"]);
  });

  it("a publish refused by the command rate spends no publish token", () => {
    const r = new ClientRates({ ...cfg, clientCommandRate: 1, clientCommandBurst: 1, clientPublishRate: 1, clientPublishBurst: 1 }, 0);
    expect(r.check(false, 0)).toBe("ok");
    expect(r.check(true, 0)).toBe("command_rate");
    expect(r.check(true, 1000)).toBe("ok");
    expect(r.check(true, 2000)).toBe("ok");
    expect(r.check(true, 2000)).toBe("command_rate");
  });
});

describe("command and publish rates of a session", () => {
  it("past clientCommandRate a command gets error 111 in its turn and does not run; time refills the bucket", async () => {
    const clock = new ManualClock();
    const n = (node = await createTestNode({ clientCommandRate: 2, clientCommandBurst: 2 }, undefined, { clock }));
    const c = await connect(n); // the connect is the first of the 2
    c.session.handleFrame('{"id":2,"ping":{}}\n{"id":3,"subscribe":{"channel":"rate"}}\n{"id":4,"ping":{}}\n{}');
    await eventually(() => expect(c.transport.frames.filter((f) => f.id).map((f) => f.id)).toEqual([1, 2, 3, 4]));
    expect(c.transport.reply(2)).toEqual({ id: 2, ping: {} });
    for (const id of [3, 4])
      expect(c.transport.reply(id).error).toEqual({ code: 111, message: expect.stringMatching(/too many commands \(clientCommandRate 2\/s\)/), temporary: true });
    expect(c.session.channels).toEqual([]); // the refused subscribe did not run
    expect(n.counters.limitRefusals.command_rate).toBe(2);
    await clock.advance(500); // one token back
    c.send({ id: 5, subscribe: { channel: "rate" } });
    await eventually(() => expect(c.transport.reply(5).subscribe).toBeDefined());
    expect(c.session.channels).toEqual(["rate"]);
    expect(c.transport.closedWith).toBeNull();
  });

  it("a connection going on at twice the rate is closed with 3501", async () => {
    const clock = new ManualClock();
    const n = (node = await createTestNode({ clientCommandRate: 2, clientCommandBurst: 2 }, undefined, { clock }));
    const c = await connect(n);
    // 1 token left after the connect, then 2 refusals of grace: the 4th ping is one too many.
    c.session.handleFrame([2, 3, 4, 5, 6].map((id) => JSON.stringify({ id, ping: {} })).join("\n"));
    expect(c.transport.closedWith).toMatchObject({ code: 3501, reason: expect.stringMatching(/too many requests/) });
    expect(n.counters.limitRefusals).toMatchObject({ command_rate: 2, rate_flood: 1 });
  });

  it("past clientPublishRate a publish gets error 111 and nothing is published; other commands go on", async () => {
    const clock = new ManualClock();
    const n = (node = await createTestNode({ clientPublishRate: 1, clientPublishBurst: 2 }, undefined, { clock }));
    const c = await connect(n);
    const pub = (id: number) => JSON.stringify({ id, publish: { channel: "prate", data: { n: id } } });
    c.session.handleFrame([pub(2), pub(3), pub(4), '{"id":5,"ping":{}}'].join("\n"));
    await eventually(() => expect(c.transport.frames.filter((f) => f.id).map((f) => f.id)).toEqual([1, 2, 3, 4, 5]));
    expect(c.transport.reply(2).publish).toBeDefined();
    expect(c.transport.reply(3).publish).toBeDefined();
    expect(c.transport.reply(4).error).toMatchObject({ code: 111, message: expect.stringMatching(/clientPublishRate 1\/s/), temporary: true });
    expect(c.transport.reply(5)).toEqual({ id: 5, ping: {} });
    expect(n.counters.published).toBe(2);
    expect(n.counters.limitRefusals.publish_rate).toBe(1);
    await clock.advance(1000);
    c.send(JSON.parse(pub(6)));
    await eventually(() => expect(c.transport.reply(6).publish).toBeDefined());
  });
});

describe("maxConnectionsPerUser on one node", () => {
  it("refuses the connect past the cap with error 106, closes with 3505, and counts again once one closes", async () => {
    const n = (node = await createTestNode({ maxConnectionsPerUser: 2, tokenHmacSecret: SECRET }));
    const a = await connect(n, "alice");
    const b = await connect(n, "alice");
    expect(a.transport.reply(1).connect).toBeDefined();
    expect(b.transport.reply(1).connect).toBeDefined();
    const third = await connect(n, "alice");
    expect(third.transport.reply(1).error).toEqual({ code: 106, message: expect.stringMatching(/too many connections of this user \(maxConnectionsPerUser 2\)/) }); // not temporary
    // The reply first, then the close.
    await eventually(() => expect(third.transport.closedWith).toMatchObject({ code: 3505, reason: "too many connections of this user" }));
    expect(n.counters.limitRefusals.connections_per_user).toBe(1);
    // Other users and anonymous connections are not concerned.
    expect((await connect(n, "bob")).transport.reply(1).connect).toBeDefined();
    for (let i = 0; i < 3; i++) expect((await connect(n)).transport.reply(1).connect).toBeDefined();
    a.session.close(disconnectNormal);
    const again = await connect(n, "alice");
    expect(again.transport.reply(1).connect).toBeDefined();
    expect(n.counters.limitRefusals.connections_per_user).toBe(1);
  });

  it("concurrent connects of one user cannot both take the last slot", async () => {
    const n = (node = await createTestNode({ maxConnectionsPerUser: 1, tokenHmacSecret: SECRET }));
    const all = await Promise.all([connect(n, "carol"), connect(n, "carol"), connect(n, "carol")]);
    expect(all.filter((c) => c.transport.reply(1).connect).length).toBe(1);
    expect(all.filter((c) => c.transport.reply(1).error?.code === 106).length).toBe(2);
  });

  it("a session closed before its connect finished gives its slot back", async () => {
    const n = (node = await createTestNode({ maxConnectionsPerUser: 1, tokenHmacSecret: SECRET }));
    const c = createTestSession(n, SECRET);
    const connecting = c.session.connect({ token: await signToken(SECRET, { sub: "dave" }) });
    c.session.close(disconnectNormal);
    await expect(connecting).rejects.toThrow();
    expect((await connect(n, "dave")).transport.reply(1).connect).toBeDefined();
  });
});
