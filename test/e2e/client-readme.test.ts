import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { canRunBrowser, launchBrowser } from "./browser.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The plain-page example of clients/js/README.md, as written, on a page of another origin. */
function readmeExample(): string {
  const readme = readFileSync(`${ROOT}clients/js/README.md`, "utf8");
  const section = readme.slice(readme.indexOf("## On a plain page"));
  const m = /```html\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error("clients/js/README.md: no html example under 'On a plain page'");
  return m[1]!;
}

describe.runIf(canRunBrowser("browser e2e (client README example)"))("the client README's plain-page example", () => {
  let hub: TestHub;
  let site: Server;
  let browser: Browser;
  beforeAll(async () => {
    execFileSync(process.execPath, ["clients/js/bundle.mjs", "--if-stale"], { cwd: ROOT, stdio: "inherit", timeout: 60_000 });
    hub = await startTestHub();
    // Only the hub's address differs from the README; the page's own backend hands out an
    // empty token (the test hub runs in --dev, as `npm start` does).
    const page = readmeExample().replaceAll("https://hub.example.com", hub.httpUrl).replaceAll("wss://hub.example.com", hub.wsUrl.replace("/connection/websocket", ""));
    site = createServer((req, res) => {
      if (req.url === "/my-backend/realtime-token") return void res.end("");
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(page);
    });
    await new Promise<void>((r) => site.listen(0, "127.0.0.1", r));
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
    site?.closeAllConnections();
    await new Promise((r) => site?.close(r));
  });

  it("runs from another origin: loads /client.js, connects, publishes and receives", async () => {
    const page = await (await browser.newContext()).newPage();
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(String(e)));
    try {
      // localhost vs 127.0.0.1: another origin than the hub's.
      await page.goto(`http://localhost:${(site.address() as AddressInfo).port}/`);
      await page.waitForFunction(() => document.querySelectorAll("#log li").length === 1, null, { timeout: 8000 });
      await hub.api.publish({ channel: "chat:lobby", data: Buffer.from('{"text":"from the server"}'), idempotencyKey: "", skipHistory: false, tags: {} });
      await page.waitForFunction(() => document.querySelectorAll("#log li").length === 2, null, { timeout: 8000 });
      expect(await page.$$eval("#log li", (els) => els.map((e) => e.textContent))).toEqual(['{"text":"hello from a plain page"}', '{"text":"from the server"}']);
      expect(errors).toEqual([]);
    } finally {
      await page.context().close();
    }
  });
});
