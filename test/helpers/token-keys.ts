import { generateKeyPairSync, type JsonWebKey, type KeyObject } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** A key pair of each type a token can be signed with, made at test time. */
export interface TestKeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicPem: string;
  readonly privatePem: string;
}

function pair(k: { privateKey: KeyObject; publicKey: KeyObject }): TestKeyPair {
  return {
    ...k,
    publicPem: k.publicKey.export({ type: "spki", format: "pem" }).toString(),
    privatePem: k.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

export function testKeys() {
  return {
    rsa: pair(generateKeyPairSync("rsa", { modulusLength: 2048 })),
    p256: pair(generateKeyPairSync("ec", { namedCurve: "P-256" })),
    p384: pair(generateKeyPairSync("ec", { namedCurve: "P-384" })),
    ed25519: pair(generateKeyPairSync("ed25519")),
  };
}

/** The public JWK of a key pair, with a kid. */
export const publicJwk = (k: TestKeyPair, kid: string): JsonWebKey => ({ ...k.publicKey.export({ format: "jwk" }), kid, use: "sig" });

/**
 * A JWK Set server on a free loopback port: serves `keys` (change it to rotate), or a 500 while
 * `failing` is set, and counts the requests it got.
 */
export async function startJwksServer(keys: JsonWebKey[]) {
  const state = { keys, failing: false, requests: 0 };
  const server: Server = createServer((_req, res) => {
    state.requests++;
    if (state.failing) {
      res.writeHead(500).end("down");
      return;
    }
    res.writeHead(200, { "content-type": "application/jwk-set+json" }).end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    state,
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
