import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, parseFlags } from "../../src/config.js";
import { ADMIN_METHODS, apiAuthError } from "../../src/transport/admin-auth.js";
import { logAdminPage } from "../../src/transport/admin-page.js";
import type { Logger } from "../../src/log.js";
import { ErrorCode } from "../../src/gen/realtime/v1/types.js";

const TOKEN = "admin-token-0123456789";

/** The ConfigError loadConfig throws for these flags (fails the test when it starts instead). */
function refusal(flags: string[], env: Record<string, string> = {}): ConfigError {
  try {
    loadConfig({ flags: parseFlags(flags), env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`started with ${flags.join(" ")}`);
}

describe("admin settings", () => {
  it("are off by default", () => {
    const c = loadConfig({ env: { REALTIME_API_KEY: "k" } });
    expect([c.admin, c.adminToken]).toEqual([false, ""]);
  });

  it("refuse admin outside --dev without an API key, naming the setting", () => {
    expect(refusal(["--admin", "--insecure-api"]).message).toMatch(/^admin: the admin page needs apiKey outside --dev/);
    // An admin token cannot close an API that runs without a key.
    expect(refusal(["--admin", "--insecure-api", "--admin-token", TOKEN]).message).toMatch(/^admin: .*adminToken or not/);
    // Without --insecure-api the API key's own check speaks first.
    expect(refusal(["--admin", "--admin-token", TOKEN]).message).toMatch(/^apiKey:/);
  });

  it("start with admin and the API key, with or without an admin token, from flags or env", () => {
    expect(loadConfig({ flags: parseFlags(["--admin", "--api-key", "k"]) }).admin).toBe(true);
    const c = loadConfig({ env: { REALTIME_ADMIN: "true", REALTIME_API_KEY: "k", REALTIME_ADMIN_TOKEN: TOKEN } });
    expect([c.admin, c.adminToken]).toEqual([true, TOKEN]);
  });

  it("refuse a weak admin token, or one without the page", () => {
    expect(refusal(["--api-key", "k", "--admin", "--admin-token", "short"]).message).toMatch(/^adminToken: use at least 16 characters/);
    expect(refusal(["--api-key", "k", "--admin", "--admin-token", "has a space in it!!"]).message).toMatch(/^adminToken: .*no spaces/);
    expect(refusal(["--api-key", "k", "--admin-token", TOKEN]).message).toMatch(/^adminToken: set, but admin is off/);
  });

  it("allow admin in --dev without any key (the log says so: admin-page.ts)", () => {
    const c = loadConfig({ flags: parseFlags(["--dev", "--admin"]) });
    expect([c.admin, c.apiKey]).toEqual([true, ""]);
  });
});

describe("logAdminPage: what the log says at start", () => {
  const said = (flags: string[]) => {
    const lines: string[] = [];
    const log = { info: (_: unknown, msg: string) => lines.push(`info ${msg}`), warn: (_: unknown, msg: string) => lines.push(`warn ${msg}`) };
    logAdminPage(loadConfig({ flags: parseFlags(flags) }), log as unknown as Logger);
    return lines;
  };
  it("nothing with the page off; loud in --dev, louder when open without a key", () => {
    expect(said(["--dev"])).toEqual([]);
    expect(said(["--dev", "--admin"])).toEqual([expect.stringMatching(/^warn ADMIN PAGE ON IN --dev AND OPEN: no apiKey/)]);
    expect(said(["--dev", "--admin", "--api-key", "k"])).toEqual([expect.stringMatching(/^warn ADMIN PAGE ON IN --dev: /)]);
    expect(said(["--admin", "--api-key", "k"])).toEqual([expect.stringMatching(/^info admin page on/)]);
  });
});

describe("apiAuthError: the API key, or the admin token for the page's methods", () => {
  const on = { admin: true, adminToken: TOKEN };
  it("takes the API key for every method, as before", () => {
    expect(apiAuthError("apikey k", "eraseuser", "k", on)).toBeNull();
    expect(apiAuthError(undefined, "info", "k", on)?.code).toBe(ErrorCode.ERROR_CODE_UNAUTHORIZED);
    expect(apiAuthError("apikey nope", "info", "k", on)?.code).toBe(ErrorCode.ERROR_CODE_UNAUTHORIZED);
  });

  it("takes the admin token for the page's methods only, and only with the page on", () => {
    for (const m of ADMIN_METHODS) expect([m, apiAuthError(`admin ${TOKEN}`, m, "k", on)]).toEqual([m, null]);
    expect(apiAuthError(`Admin  ${TOKEN} `, "info", "k", on)).toBeNull();
    for (const m of ["eraseuser", "broadcast"]) expect(apiAuthError(`admin ${TOKEN}`, m, "k", on)?.code).toBe(ErrorCode.ERROR_CODE_PERMISSION_DENIED);
    expect(apiAuthError(`admin ${TOKEN}x`, "info", "k", on)?.message).toBe("wrong admin token");
    expect(apiAuthError(`admin ${TOKEN}`, "info", "k", { admin: false, adminToken: TOKEN })?.code).toBe(ErrorCode.ERROR_CODE_UNAUTHORIZED);
    expect(apiAuthError("admin ", "info", "k", { admin: true, adminToken: "" })?.code).toBe(ErrorCode.ERROR_CODE_UNAUTHORIZED);
  });
});
