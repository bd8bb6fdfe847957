import { execFile, spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT } from "jose";
import { TokenVerifier } from "../../src/auth/jwt.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { owned, which } from "../helpers/processes.js";
import { until } from "../helpers/until.js";
import { fileExists, requireTools } from "../helpers/require.js";
import { testKeys } from "../helpers/token-keys.js";
import { TestWsClient } from "../helpers/ws-client.js";
import { TestCerts, type CertFiles } from "../helpers/certs.js";

const PHP = which("php");
const PHPUNIT = "/usr/bin/phpunit";
const canRun = requireTools("PHP client", {
  "php (Debian package php-cli)": PHP !== null,
  "ext-curl (Debian package php-curl)": PHP !== null && phpHas("curl"),
  "ext-bcmath (Debian package php-bcmath; the JSON transport needs it)": PHP !== null && phpHas("bcmath"),
  "the protobuf runtime (Debian package php-google-protobuf)": fileExists("/usr/share/php/Google/Protobuf/Internal/Message.php"),
  "phpunit (Debian package phpunit)": fileExists(PHPUNIT),
});

/** Whether the php binary has this extension loaded. */
function phpHas(ext: string): boolean {
  return spawnSync(PHP!, ["-r", `exit(extension_loaded(${JSON.stringify(ext)}) ? 0 : 1);`]).status === 0;
}

const PKG = fileURLToPath(new URL("../../clients/php/", import.meta.url));
const SCRIPTS = fileURLToPath(new URL("./", import.meta.url));
const API_KEY = "php-test-key";
const HMAC = "php-client-test-secret-of-32-bytes!!";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Asynchronous: the hub runs in this process, a synchronous spawn would block it. */
const run = (file: string, args: string[], env: Record<string, string> = {}, timeout = 120_000) =>
  new Promise<Run>((resolve) =>
    execFile(file, args, { encoding: "utf8", timeout, env: { ...process.env, ...env }, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    ),
  );

describe.runIf(canRun)("PHP client (clients/php) against a real hub", () => {
  let hub: TestHub;
  const keys = testKeys();
  let env: Record<string, string>;
  let watcher: TestWsClient;
  /** Users whose data HubClientTest::testEraseUser erases, one per transport. */
  const erasable: TestWsClient[] = [];

  /** A connection token signed here (jose), for the WebSocket clients of the test. */
  const nodeToken = (sub: string) => new SignJWT({ sub }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("10m").sign(new TextEncoder().encode(HMAC));

  /** test/php/call.php: one HubClient call (exit 3 and the exception as JSON when it throws). */
  const phpCallRaw = (transport: string, method: string, args: unknown, extraEnv: Record<string, string> = {}, times = 1) =>
    run(PHP!, [`${SCRIPTS}call.php`, transport, method, JSON.stringify(args), String(times)], { ...env, ...extraEnv }, 30_000);
  const phpCall = async (transport: string, method: string, args: unknown, times = 1, extraEnv: Record<string, string> = {}) => {
    const r = await phpCallRaw(transport, method, args, extraEnv, times);
    if (r.code !== 0) throw new Error(`php call.php ${method} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
    return r.stdout.trim().split("\n").map((l) => JSON.parse(l) as unknown);
  };

  const mint = async (alg: string, key: string, kind: string, user: string, ...rest: string[]) => {
    const r = await run(PHP!, [`${SCRIPTS}mint-token.php`, alg, kind, user, ...rest], { REALTIME_TOKEN_KEY: key }, 30_000);
    if (r.code !== 0) throw new Error(`php mint-token.php failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
    return r.stdout.trim();
  };

  beforeAll(async () => {
    // --dev (history, presence on every channel) but with an API key and tokens required.
    hub = await startTestHub({
      apiKey: API_KEY,
      allowAnonymous: false,
      tokenHmacSecret: HMAC,
      tokenPublicKey: keys.rsa.publicPem + keys.p256.publicPem,
    });
    const presenceChannel = `php-presence:${Date.now()}`;
    watcher = await TestWsClient.connect(hub.wsUrl, await nodeToken("php-watcher"));
    const sub = await watcher.call({ subscribe: { channel: presenceChannel } });
    expect(sub.error).toBeUndefined();
    env = {
      REALTIME_HTTP_URL: hub.httpUrl,
      REALTIME_GRPC_URL: `http://${hub.grpcAddr}`,
      REALTIME_API_KEY: API_KEY,
      REALTIME_PRESENCE_CHANNEL: presenceChannel,
      REALTIME_PRESENCE_USER: "php-watcher",
      REALTIME_ERASE_USER_PREFIX: "php-erase-",
    };
    // For testEraseUser: user php-erase-<transport> in channel php-erase:<transport>, with two publications.
    for (const t of ["http", "json", "grpc"]) {
      const c = await TestWsClient.connect(hub.wsUrl, await nodeToken(`php-erase-${t}`));
      erasable.push(c);
      expect((await c.call({ subscribe: { channel: `php-erase:${t}` } })).error).toBeUndefined();
      for (const text of ["one", "two"]) expect((await c.call({ publish: { channel: `php-erase:${t}`, data: { text } } })).error).toBeUndefined();
    }
  });
  afterAll(async () => {
    for (const c of erasable) c.ws.close();
    watcher?.ws.close();
    await hub?.stop();
  });

  it("passes its PHPUnit suite (every method, each transport, errors) against this hub", async () => {
    const r = await run(PHP!, [PHPUNIT, "--configuration", `${PKG}phpunit.xml.dist`, "--do-not-cache-result"], env);
    const output = `${r.stdout}\n${r.stderr}`;
    expect(r.code, output).toBe(0);
    // "OK (n tests", not "OK, but incomplete, skipped, or risky": a skip would mean the env did not reach PHP.
    const ok = /^OK \((\d+) tests, \d+ assertions\)/m.exec(output);
    expect(ok, output).not.toBeNull();
    // 9 test methods (tests/HubClientTest.php) x 3 transports, and the token tests.
    expect(Number(ok![1]), output).toBeGreaterThanOrEqual(27);
  }, 180_000);

  it.each(["http", "json", "grpc"])("a publication from PHP (%s) reaches a WebSocket client once, however often the call is retried", async (transport) => {
    const channel = `php-ws-${transport}:${Date.now()}`;
    const c = await TestWsClient.connect(hub.wsUrl, await nodeToken("php-reader"));
    try {
      expect((await c.call({ subscribe: { channel } })).error).toBeUndefined();
      // One call object, sent three times with its idempotency key (what a retry does).
      const results = (await phpCall(transport, "publish", [channel, { from: "php", transport }, "retry-key-1"], 3)) as Array<{ offset: number }>;
      expect(results.map((r) => r.offset)).toEqual([1, 1, 1]);
      await phpCall(transport, "publish", [channel, { last: true }]);
      const last = await c.waitFor((m) => m.push?.pub?.data?.last === true);
      const pubs = c.messages.filter((m) => m.push?.pub);
      expect(pubs.map((m) => m.push.pub.data)).toEqual([{ from: "php", transport }, { last: true }]);
      expect(last.push.pub.offset).toBe("2");
    } finally {
      c.ws.close();
    }
  }, 60_000);

  it("subscribe(): a PHP consumer on the gRPC Subscribe stream gets a browser's join, publication (with its user) and leave", async () => {
    const channel = `php-consume:${Date.now()}`;
    let out = "";
    const child = owned(spawn(PHP!, [`${SCRIPTS}consume.php`, JSON.stringify([channel]), "3", "1"], { env: { ...process.env, ...env } }));
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.once("exit", r));
    const c = await TestWsClient.connect(hub.wsUrl, await nodeToken("php-browser"));
    try {
      await until(() => out.includes("ready\n") || child.exitCode !== null, { what: "the PHP consumer subscribed" });
      expect(out).toBe("ready\n");
      expect((await c.call({ subscribe: { channel } })).error).toBeUndefined();
      expect((await c.call({ publish: { channel, data: { text: "from the browser" } } })).error).toBeUndefined();
      expect((await c.call({ unsubscribe: { channel } })).error).toBeUndefined();
      expect(await exited, out).toBe(0);
      const events = out.trim().split("\n").slice(1, -1).map((l) => JSON.parse(l) as { event: string; data: string | null; user: string });
      expect(events.map((e) => e.event)).toEqual(["join", "publication", "leave"]);
      expect(events.every((e) => e.user === "php-browser")).toBe(true);
      expect(JSON.parse(events[1]!.data!)).toEqual({ text: "from the browser" });
      expect(out.trim().split("\n").at(-1)).toBe("done 3");
    } finally {
      c.ws.close();
      child.kill();
    }
  }, 60_000);

  it("subscribe(): a channel the hub refuses ends the consumer with its exception", async () => {
    const r = await run(PHP!, [`${SCRIPTS}consume.php`, JSON.stringify(["bad channel!"]), "1"], env, 30_000);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ exception: "RealtimeHub\\Client\\Exception\\BadRequestException", code: 107, temporary: false });
  });

  it("disconnect and unsubscribe from PHP act on the user's WebSocket", async () => {
    const channel = `php-unsub:${Date.now()}`;
    const c = await TestWsClient.connect(hub.wsUrl, await nodeToken("php-victim"));
    try {
      expect((await c.call({ subscribe: { channel } })).error).toBeUndefined();
      await phpCall("grpc", "unsubscribe", ["php-victim", channel]);
      await c.waitFor((m) => m.push?.unsubscribe !== undefined && m.push.channel === channel);
      await phpCall("json", "disconnect", { user: "php-victim", reason: "bye from php" });
      expect(await c.waitClosed()).toBe(3504);
    } finally {
      c.ws.close();
    }
  }, 60_000);

  it.each([
    ["HS256", () => HMAC],
    ["RS256", () => keys.rsa.privatePem],
    ["ES256", () => keys.p256.privatePem],
  ])("a %s connection token minted in PHP opens a WebSocket connection; its subscription token verifies", async (alg, key) => {
    // Without a token this hub turns the client away (allowAnonymous off).
    await expect(TestWsClient.connect(hub.wsUrl)).rejects.toThrow(/connect failed/);

    const token = await mint(alg, key(), "connection", "php-user", "", JSON.stringify({ name: "Zoë" }));
    const c = await TestWsClient.connect(hub.wsUrl, token);
    try {
      const channel = `php-token-${alg}:${Date.now()}`;
      expect((await c.call({ subscribe: { channel } })).error).toBeUndefined();
      // The user and info the hub took from the token, as presence shows them.
      const res = await fetch(`${hub.httpUrl}/api/presence`, {
        method: "POST",
        headers: { authorization: `apikey ${API_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ channel }),
      });
      const clients = Object.values(((await res.json()) as { presence: Record<string, { user: string; connInfo: unknown }> }).presence);
      expect(clients).toEqual([expect.objectContaining({ user: "php-user", connInfo: { name: "Zoë" } })]);
    } finally {
      c.ws.close();
    }

    const verifier = TokenVerifier.fromConfig(hub.config);
    const subToken = await mint(alg, key(), "subscription", "php-user", "private:room", JSON.stringify({ role: "admin" }));
    const claims = await verifier.verifySubscribe(subToken, "php-user", "private:room");
    expect(claims.chanInfo.toString()).toBe('{"role":"admin"}');
    expect(claims.expiresAt).toBeGreaterThan(Date.now() / 1000);
    // A subscription token never opens a connection.
    await expect(verifier.verifyConnect(subToken)).rejects.toThrow(/subscription token/);
    await expect(verifier.verifyConnect(await mint(alg, key(), "connection", "php-user"))).resolves.toMatchObject({ user: "php-user" });
  }, 60_000);
  describe("over TLS", () => {
    // Made in beforeAll: a describe body runs even when the suite is skipped.
    let certs: TestCerts;
    let clientCa: CertFiles;
    let client: CertFiles;
    let tlsHub: TestHub;
    let tlsEnv: Record<string, string>;

    beforeAll(async () => {
      certs = new TestCerts();
      const ca = certs.ca("php-ca");
      const server = certs.signed("php-server", ca, "server");
      clientCa = certs.ca("php-client-ca");
      client = certs.signed("php-client", clientCa, "client");
      tlsHub = await startTestHub({
        apiKey: API_KEY,
        httpTlsCertFile: server.cert,
        httpTlsKeyFile: server.key,
        grpcTlsCertFile: server.cert,
        grpcTlsKeyFile: server.key,
        grpcClientCaFile: clientCa.cert,
      });
      const port = (u: string) => new URL(u).port;
      tlsEnv = {
        REALTIME_HTTP_URL: `https://127.0.0.1:${port(tlsHub.httpUrl)}`,
        REALTIME_GRPC_URL: `https://${tlsHub.grpcAddr}`,
        REALTIME_CA_FILE: ca.cert,
      };
    });
    afterAll(async () => {
      await tlsHub?.stop();
      certs?.remove();
    });

    it.each(["http", "json", "grpc"])("%s: publishes over TLS, the hub's certificate checked against the CA file", async (transport) => {
      const [r] = (await phpCall(transport, "publish", [`php-tls-${transport}:1`, { tls: true }], 1, tlsEnv)) as Array<{ offset: string | number }>;
      expect(Number(r!.offset)).toBe(1);
    });

    it("grpc: a client certificate signed by grpcClientCaFile needs no API key (mTLS)", async () => {
      const mtls = { ...tlsEnv, REALTIME_API_KEY: "", REALTIME_CERT_FILE: client.cert, REALTIME_KEY_FILE: client.key };
      const [r] = (await phpCall("grpc", "publish", ["php-tls-mtls:1", { mtls: true }], 1, mtls)) as Array<{ offset: number }>;
      expect(r!.offset).toBe(1);
      // Without the certificate (and without a key) the hub refuses the call.
      const refused = await phpCallRaw("grpc", "info", [], { ...tlsEnv, REALTIME_API_KEY: "" });
      expect(refused.code, refused.stdout + refused.stderr).toBe(3);
      expect(JSON.parse(refused.stdout)).toMatchObject({ exception: "RealtimeHub\\Client\\Exception\\UnauthorizedException", code: 101 });
    });

    it("a certificate the CA file did not sign is a TransportException that is not temporary", async () => {
      const r = await phpCallRaw("http", "info", [], { ...tlsEnv, REALTIME_CA_FILE: clientCa.cert });
      expect(r.code, r.stdout + r.stderr).toBe(3);
      expect(JSON.parse(r.stdout)).toMatchObject({ exception: "RealtimeHub\\Client\\Exception\\TransportException", code: 0, temporary: false });
    });
  });
});
