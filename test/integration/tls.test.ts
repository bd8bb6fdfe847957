import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { copyFileSync } from "node:fs";
import https from "node:https";
import { join } from "node:path";
import tls from "node:tls";
import { fileURLToPath } from "node:url";
import { credentials, Metadata, status, type ChannelCredentials, type ServiceError } from "@grpc/grpc-js";
import WebSocket from "ws";
import { ConfigError, loadConfig } from "../../src/config.js";
import { HubServiceClient } from "../../src/gen/realtime/v1/hub.js";
import { TestCerts, type CertFiles } from "../helpers/certs.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { until } from "../helpers/until.js";

const MAIN = fileURLToPath(new URL("../../dist/src/main.js", import.meta.url));

const certs = new TestCerts();
afterAll(() => certs.remove());
const ca = certs.ca("server-ca");
const serverA = certs.signed("server-a", ca, "server");
const serverB = certs.signed("server-b", ca, "server");
const clientCa = certs.ca("client-ca");
const otherCa = certs.ca("other-ca");
const goodClient = certs.signed("good-client", clientCa, "client");
const strangerClient = certs.signed("stranger-client", otherCa, "client");

/** The live certificate files a hub is configured with; swapped by copying another pair over them. */
function liveFiles(name: string, from: CertFiles): { cert: string; key: string; swap(to: CertFiles): void } {
  const cert = join(certs.dir, `${name}-live.crt`);
  const key = join(certs.dir, `${name}-live.key`);
  const swap = (to: CertFiles) => {
    copyFileSync(to.cert, cert);
    copyFileSync(to.key, key);
  };
  swap(from);
  return { cert, key, swap };
}

/** The SHA-256 fingerprint of the certificate a TLS listener serves now (a new connection). */
function servedFingerprint(port: number, alpn?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, ca: ca.certPem, servername: "localhost", ...(alpn ? { ALPNProtocols: [alpn] } : {}) }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.destroy();
      resolve(fp);
    });
    s.on("error", reject);
  });
}

/** GET over https, trusting the test CA. */
function httpsGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca: ca.certPem, agent: false }, (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode!, body }));
      })
      .on("error", reject);
  });
}

/** A HubService Info call over TLS with these credentials (and the API key, when given). */
function info(port: number, creds: ChannelCredentials, apiKey?: string): Promise<{ ok: true } | ServiceError> {
  // The certificate names localhost: an IP as TLS server name is deprecated (RFC 6066).
  const client = new HubServiceClient(`127.0.0.1:${port}`, creds, { "grpc.ssl_target_name_override": "localhost" });
  const md = new Metadata();
  if (apiKey) md.set("authorization", `apikey ${apiKey}`);
  return new Promise((resolve) => {
    client.info({}, md, { deadline: Date.now() + 10_000 }, (err) => {
      client.close();
      resolve(err ?? { ok: true });
    });
  });
}

const tlsCreds = (client?: CertFiles) =>
  client ? credentials.createSsl(ca.certPem, client.keyPem, client.certPem) : credentials.createSsl(ca.certPem);

describe("TLS on the HTTP edge: https and wss", () => {
  let hub: TestHub;
  let live: ReturnType<typeof liveFiles>;
  beforeAll(async () => {
    live = liveFiles("http", serverA);
    hub = await startTestHub({ httpTlsCertFile: live.cert, httpTlsKeyFile: live.key });
  });
  afterAll(async () => hub?.stop());

  it("serves https, and plain http no longer", async () => {
    const r = await httpsGet(`https://127.0.0.1:${hub.httpPort}/health`);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ status: "ok" });
    await expect(fetch(`http://127.0.0.1:${hub.httpPort}/health`)).rejects.toThrow();
  });

  it("a wss client connects and speaks the protocol", async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${hub.httpPort}/connection/websocket`, { ca: ca.certPem });
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    const reply = new Promise<{ id: number; connect?: { client: string } }>((resolve) => ws.once("message", (d) => resolve(JSON.parse(d.toString()))));
    ws.send('{"id":1,"connect":{}}');
    expect(await reply).toMatchObject({ id: 1, connect: { client: expect.any(String) } });
    ws.close();
  });

  it("reloadTls (SIGHUP) serves the new certificate to new connections; open ones keep going", async () => {
    expect(await servedFingerprint(hub.httpPort)).toBe(serverA.fingerprint256);
    const ws = new WebSocket(`wss://127.0.0.1:${hub.httpPort}/connection/websocket`, { ca: ca.certPem });
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    live.swap(serverB);
    expect(hub.reloadTls()).toEqual(["http"]);
    expect(await servedFingerprint(hub.httpPort)).toBe(serverB.fingerprint256);
    // The listener was not replaced: the connection made before the reload still answers.
    const reply = new Promise<{ id: number }>((resolve) => ws.once("message", (d) => resolve(JSON.parse(d.toString()))));
    ws.send('{"id":1,"connect":{}}');
    expect(await reply).toMatchObject({ id: 1 });
    ws.close();
  });

  it("a reload with a broken file keeps the certificate it had", async () => {
    const before = await servedFingerprint(hub.httpPort);
    copyFileSync(serverA.cert, live.cert); // serverA's certificate with serverB's key: not a pair
    expect(hub.reloadTls()).toEqual([]);
    expect(await servedFingerprint(hub.httpPort)).toBe(before);
    live.swap(serverB);
  });
});

describe("TLS and mTLS on the gRPC server API", () => {
  let hub: TestHub;
  let live: ReturnType<typeof liveFiles>;
  const apiKey = "grpc-k3y";
  beforeAll(async () => {
    live = liveFiles("grpc", serverA);
    hub = await startTestHub({ apiKey, grpcTlsCertFile: live.cert, grpcTlsKeyFile: live.key, grpcClientCaFile: clientCa.cert });
  });
  afterAll(async () => hub?.stop());

  it("a client certificate signed by grpcClientCaFile is let in without the API key", async () => {
    expect(await info(hub.grpcPort, tlsCreds(goodClient))).toEqual({ ok: true });
  });

  it("no client certificate, and no API key: UNAUTHENTICATED, naming both ways in", async () => {
    const r = await info(hub.grpcPort, tlsCreds());
    expect(r).toMatchObject({ code: status.UNAUTHENTICATED, details: expect.stringMatching(/apikey.*client certificate signed by grpcClientCaFile/) });
  });

  it("a client certificate another CA signed, and no API key: UNAUTHENTICATED", async () => {
    expect(await info(hub.grpcPort, tlsCreds(strangerClient))).toMatchObject({ code: status.UNAUTHENTICATED });
  });

  it("the API key stays the other way in, with or without a certificate", async () => {
    expect(await info(hub.grpcPort, tlsCreds(), apiKey)).toEqual({ ok: true });
    expect(await info(hub.grpcPort, tlsCreds(strangerClient), apiKey)).toEqual({ ok: true });
    expect(await info(hub.grpcPort, tlsCreds(), "wrong")).toMatchObject({ code: status.UNAUTHENTICATED });
  });

  it("a plaintext client does not get in", async () => {
    const r = await info(hub.grpcPort, credentials.createInsecure(), apiKey);
    expect(r).toMatchObject({ code: status.UNAVAILABLE });
  });

  it("reloadTls (SIGHUP) serves the new certificate without unbinding", async () => {
    expect(await servedFingerprint(hub.grpcPort, "h2")).toBe(serverA.fingerprint256);
    live.swap(serverB);
    expect(hub.reloadTls()).toEqual(["grpc"]);
    await until(async () => (await servedFingerprint(hub.grpcPort, "h2")) === serverB.fingerprint256, { what: "the new gRPC certificate" });
    expect(await info(hub.grpcPort, tlsCreds(goodClient))).toEqual({ ok: true });
  });
});

describe("mTLS with no API key: the certificate is the only way in", () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub({ dev: false, insecureApi: true, grpcTlsCertFile: serverA.cert, grpcTlsKeyFile: serverA.key, grpcClientCaFile: clientCa.cert });
  });
  afterAll(async () => hub?.stop());

  it("no certificate and a stranger's are refused; the right one is accepted", async () => {
    expect(await info(hub.grpcPort, tlsCreds())).toMatchObject({ code: status.UNAUTHENTICATED, details: expect.stringMatching(/client certificate required/) });
    expect(await info(hub.grpcPort, tlsCreds(strangerClient))).toMatchObject({ code: status.UNAUTHENTICATED });
    expect(await info(hub.grpcPort, tlsCreds(goodClient))).toEqual({ ok: true });
  });
});

describe("bad TLS settings stop the hub at startup with a ConfigError", () => {
  const start = (overrides: Record<string, string>) => startTestHub(overrides);

  it("a certificate without its key, or a client CA without TLS", () => {
    expect(() => loadConfig({ overrides: { dev: true, httpTlsCertFile: serverA.cert } })).toThrow(/httpTlsKeyFile: required with httpTlsCertFile/);
    expect(() => loadConfig({ overrides: { dev: true, grpcTlsKeyFile: serverA.key } })).toThrow(/grpcTlsCertFile: required with grpcTlsKeyFile/);
    expect(() => loadConfig({ overrides: { dev: true, grpcClientCaFile: clientCa.cert } })).toThrow(/grpcClientCaFile: client certificates need TLS/);
  });

  it("a missing file, a file that is not PEM, a key that is not the certificate's", async () => {
    await expect(start({ httpTlsCertFile: join(certs.dir, "nope.crt"), httpTlsKeyFile: serverA.key })).rejects.toThrow(
      /^httpTlsCertFile \S+nope\.crt: cannot read it \(ENOENT\)$/,
    );
    await expect(start({ httpTlsCertFile: serverA.key, httpTlsKeyFile: serverA.key })).rejects.toThrow(/httpTlsCertFile \S+: not a PEM certificate/);
    await expect(start({ grpcTlsCertFile: serverA.cert, grpcTlsKeyFile: serverA.cert })).rejects.toThrow(/grpcTlsKeyFile \S+: not a PEM private key/);
    await expect(start({ grpcTlsCertFile: serverA.cert, grpcTlsKeyFile: serverB.key })).rejects.toThrow(/grpcTlsKeyFile \S+: not the private key of grpcTlsCertFile/);
    await expect(start({ grpcTlsCertFile: serverA.cert, grpcTlsKeyFile: serverA.key, grpcClientCaFile: serverA.key })).rejects.toThrow(ConfigError);
  });

  it("the CLI says so in one line and exits 2", () => {
    const r = spawnSync(process.execPath, [MAIN, "serve", "--dev", "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--http-tls-cert-file", "/nope.crt", "--http-tls-key-file", "/nope.key"], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("realtime-hub: httpTlsCertFile /nope.crt: cannot read it (ENOENT)\n");
  });
});

describe("realtime-hub serve reloads its certificates on SIGHUP", () => {
  let child: ChildProcess | undefined;
  afterAll(() => void child?.kill("SIGKILL"));

  it("the HTTP edge and gRPC serve the new certificate after kill -HUP, on the same ports", async () => {
    const http = liveFiles("cli-http", serverA);
    const grpc = liveFiles("cli-grpc", serverA);
    child = spawn(
      process.execPath,
      [MAIN, "serve", "--dev", "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0",
        "--http-tls-cert-file", http.cert, "--http-tls-key-file", http.key, "--grpc-tls-cert-file", grpc.cert, "--grpc-tls-key-file", grpc.key],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const lines: Array<{ msg?: string; http?: string; grpc?: string; reloaded?: string[] }> = [];
    child.stdout!.on("data", (c: Buffer) => {
      for (const l of c.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(l));
    });
    const started = await until(() => lines.find((l) => l.msg?.includes("started")), { what: "the hub to start", ms: 20_000 });
    const httpPort = Number(started.http!.split(":").pop());
    const grpcPort = Number(started.grpc!.split(":").pop());
    expect(await servedFingerprint(httpPort)).toBe(serverA.fingerprint256);
    expect(await servedFingerprint(grpcPort, "h2")).toBe(serverA.fingerprint256);
    http.swap(serverB);
    grpc.swap(serverB);
    child.kill("SIGHUP");
    const reloaded = await until(() => lines.find((l) => l.reloaded), { what: "the SIGHUP log line" });
    expect(reloaded.reloaded).toEqual(["http", "grpc"]);
    expect(await servedFingerprint(httpPort)).toBe(serverB.fingerprint256);
    await until(async () => (await servedFingerprint(grpcPort, "h2")) === serverB.fingerprint256, { what: "the new gRPC certificate" });
    expect(child.exitCode).toBeNull();
  });
});
