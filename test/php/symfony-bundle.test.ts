import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT } from "jose";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { canRunSymfonyBundle, startSymfonyBundleApp, type SymfonyBundleApp } from "../helpers/symfony-bundle-app.js";
import { TestWsClient } from "../helpers/ws-client.js";

/**
 * The Symfony bundle (clients/php/bundle) in a real Symfony 5.4 app (test/symfony-bundle) against
 * a real hub: the autowired HubClientInterface publishes from a controller.
 */

const API_KEY = "symfony-bundle-api-key";
const TOKEN_SECRET = "symfony-bundle-token-secret-32-bytes!";

describe.runIf(canRunSymfonyBundle("Symfony bundle"))("Symfony bundle in a real Symfony app", () => {
  let hub: TestHub;
  let app: SymfonyBundleApp;
  const token = (sub: string) => new SignJWT({ sub }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("10m").sign(new TextEncoder().encode(TOKEN_SECRET));

  beforeAll(async () => {
    hub = await startTestHub({ apiKey: API_KEY, allowAnonymous: false, tokenHmacSecret: TOKEN_SECRET });
    app = await startSymfonyBundleApp({ REALTIME_DSN: hub.httpUrl, REALTIME_API_KEY: API_KEY, REALTIME_TOKEN_SECRET: TOKEN_SECRET });
  }, 180_000);
  afterAll(async () => {
    await app?.stop();
    await hub?.stop();
  });

  it("a controller publishes through the autowired HubClientInterface and a WebSocket client receives it", async () => {
    const c = await TestWsClient.connect(hub.wsUrl, await token("reader"));
    try {
      expect((await c.call({ subscribe: { channel: "news" } })).error).toBeUndefined();
      const res = await fetch(`${app.url}/news`, { method: "POST", body: new URLSearchParams({ title: "hello from Symfony" }) });
      const body = await res.text();
      expect(res.status, `${body}\n${app.output()}`).toBe(200);
      const published = JSON.parse(body) as { offset: number; epoch: string };
      const pub = await c.waitFor((m) => m.push?.pub);
      expect(pub.push.pub.data).toEqual({ title: "hello from Symfony" });
      expect(Number(pub.push.pub.offset)).toBe(published.offset);
      expect(published.offset).toBeGreaterThan(0);
    } finally {
      c.ws.close();
    }
  });

  it("passes its PHPUnit suite (clients/php/bundle/tests)", async () => {
    const r = await app.run("/usr/bin/phpunit", ["--configuration", fileURLToPath(new URL("../../clients/php/bundle/phpunit.xml.dist", import.meta.url)), "--do-not-cache-result"]);
    const output = `${r.stdout}\n${r.stderr}`;
    expect(r.code, output).toBe(0);
    // "OK (n tests", not "OK, but incomplete, skipped, or risky".
    expect(output, output).toMatch(/^OK \((\d+) tests, \d+ assertions\)/m);
  }, 180_000);

  it.each(["clients/php", "clients/php/bundle"])("%s/composer.json is valid for composer (strict)", (dir) => {
    const out = execFileSync("composer", ["validate", "--no-check-publish", "--strict", "--no-interaction"], {
      cwd: fileURLToPath(new URL(`../../${dir}/`, import.meta.url)),
      encoding: "utf8",
      env: { ...process.env, COMPOSER_DISABLE_NETWORK: "1" },
    });
    expect(out).toContain("is valid");
  });
});
