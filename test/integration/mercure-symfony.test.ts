import { execFile } from "node:child_process";
import http from "node:http";
import { promisify } from "node:util";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { topicToChannel } from "../../src/mercure/topic-channel.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { which } from "../helpers/processes.js";
import { fileExists, requireTools } from "../helpers/require.js";
import { until } from "../helpers/until.js";
import { TestWsClient } from "../helpers/ws-client.js";

/** Debian's php-symfony-mercure (symfony/mercure 0.6), loaded unchanged from its autoloader. */
const MERCURE_AUTOLOAD = "/usr/share/php/Symfony/Component/Mercure/autoload.php";
const SECRET = "symfony-mercure-secret";

const canRun = requireTools("Mercure with Debian's symfony/mercure", {
  "php (Debian package php-cli)": which("php") !== null,
  "symfony/mercure 0.6 (Debian package php-symfony-mercure)": fileExists(MERCURE_AUTOLOAD),
});

/**
 * What a Symfony app does: mints the publisher JWT with the secret it shares with the hub
 * (HS256 by hand, as an app without lcobucci/jwt would), and publishes through
 * Symfony\Component\Mercure\Hub. argv: hub URL, secret, data, private (0/1), topics...
 */
const PUBLISH_PHP = `
require '${MERCURE_AUTOLOAD}';
use Symfony\\Component\\Mercure\\Hub;
use Symfony\\Component\\Mercure\\Jwt\\StaticTokenProvider;
use Symfony\\Component\\Mercure\\Update;
[, $url, $secret, $data, $private] = $argv;
$topics = array_slice($argv, 5);
$b64 = fn (string $s) => rtrim(strtr(base64_encode($s), '+/', '-_'), '=');
$head = $b64(json_encode(['alg' => 'HS256', 'typ' => 'JWT']));
$body = $b64(json_encode(['mercure' => ['publish' => ['*']]]));
$jwt = "$head.$body." . $b64(hash_hmac('sha256', "$head.$body", $secret, true));
$hub = new Hub($url, new StaticTokenProvider($jwt));
echo $hub->publish(new Update($topics, $data, $private === '1', null, 'book-update'));
`;

async function phpPublish(hub: TestHub, data: string, priv: boolean, topics: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)("php", ["-r", PUBLISH_PHP, "--", `${hub.httpUrl}/.well-known/mercure`, SECRET, data, priv ? "1" : "0", ...topics], { timeout: 20_000 });
  return stdout;
}

/** Mercure SSE events (id, event, data) of GET /.well-known/mercure, as an EventSource reads them. */
function subscribe(hub: TestHub, topic: string, headers: Record<string, string> = {}) {
  const events: { id: string; event: string; data: string }[] = [];
  const req = http.get(`${hub.httpUrl}/.well-known/mercure?topic=${encodeURIComponent(topic)}`, { headers }, (res) => {
    let buf = "";
    res.on("data", (c: Buffer) => {
      buf += c.toString();
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const lines = buf.slice(0, i).split("\n").filter((l) => !l.startsWith(":"));
        buf = buf.slice(i + 2);
        const field = (name: string) => lines.filter((l) => l.startsWith(`${name}: `)).map((l) => l.slice(name.length + 2));
        if (field("data").length > 0) events.push({ id: field("id")[0] ?? "", event: field("event")[0] ?? "", data: field("data").join("\n") });
      }
    });
  });
  return { events, opened: new Promise((r) => req.once("response", r)), close: () => req.destroy() };
}

describe.runIf(canRun)("Debian's symfony/mercure Hub publishing to this hub", () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub({ tokenHmacSecret: SECRET });
  });
  afterAll(async () => {
    await hub.stop();
  });

  it("publishes with Symfony's Hub class: a Mercure subscriber and a WebSocket client of the channel both receive it; the private one only the authorised", async () => {
    const topic = `https://example.com/books/${Date.now()}`;
    const subscriberJwt = await subscribeJwt([topic]);
    const anonymous = subscribe(hub, topic);
    const authorised = subscribe(hub, topic, { Cookie: `mercureAuthorization=${subscriberJwt}` });
    const ws = await TestWsClient.connect(hub.wsUrl);
    try {
      await Promise.all([anonymous.opened, authorised.opened]);
      await ws.call({ subscribe: { channel: topicToChannel(topic) } });
      const id = await phpPublish(hub, '{"title":"Dune"}', false, [topic, "https://example.com/authors/1"]);
      expect(id).toMatch(/^urn:uuid:/);
      const secretId = await phpPublish(hub, "secret", true, [topic]);
      await until(() => authorised.events.length >= 2 && anonymous.events.length >= 1 && ws.pubs().length >= 2, { what: "both updates" });
      expect(authorised.events).toEqual([
        { id, event: "book-update", data: '{"title":"Dune"}' },
        { id: secretId, event: "book-update", data: "secret" },
      ]);
      const ping = await phpPublish(hub, "after", false, [topic]);
      await until(() => anonymous.events.some((e) => e.id === ping), { what: "the public update after the private one" });
      expect(anonymous.events.map((e) => e.data)).toEqual(['{"title":"Dune"}', "after"]);
      expect(ws.pubs(topicToChannel(topic))[0]).toMatchObject({ data: { title: "Dune" }, tags: { "mercure.id": id, "mercure.type": "book-update" } });
    } finally {
      anonymous.close();
      authorised.close();
      ws.close();
    }
  });
});

function subscribeJwt(topics: string[]): Promise<string> {
  return new SignJWT({ mercure: { subscribe: topics } }).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(SECRET));
}
