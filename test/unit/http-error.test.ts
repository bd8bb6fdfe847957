import { describe, expect, it } from "vitest";
import { HubError } from "../../src/errors.js";
import { ErrorCode } from "../../src/gen/realtime/v1/types.js";
import { httpStatus } from "../../src/transport/http-error.js";
import { apiKeyError } from "../../src/api/api-key.js";

describe("httpStatus", () => {
  it("maps every error code, and any temporary error to 503", () => {
    const codes = Object.values(ErrorCode).filter((v): v is ErrorCode => typeof v === "number" && v > 0);
    for (const code of codes) {
      expect(httpStatus(new HubError(code, "x", true)), `${code} temporary`).toBe(503);
      expect([400, 401, 403, 404, 409, 429, 500], String(code)).toContain(httpStatus(new HubError(code, "x")));
    }
    expect(httpStatus(new HubError(ErrorCode.ERROR_CODE_LIMIT_EXCEEDED, "x"))).toBe(429);
    expect(httpStatus(new HubError(ErrorCode.ERROR_CODE_NOT_AVAILABLE, "x"))).toBe(409);
    expect(httpStatus(new HubError(ErrorCode.ERROR_CODE_INTERNAL, "x"))).toBe(500);
  });
});

describe("apiKeyError", () => {
  it("lets a call through only with the right key, whatever the length of a wrong one", () => {
    expect(apiKeyError("apikey secret", "secret", "header")).toBeNull();
    expect(apiKeyError("ApiKey   secret ", "secret", "header")).toBeNull();
    for (const wrong of ["apikey s", "apikey secreT", "apikey secret-and-more"])
      expect(apiKeyError(wrong, "secret", "header")?.message).toBe("wrong API key");
    expect(apiKeyError(undefined, "secret", "metadata")?.code).toBe(ErrorCode.ERROR_CODE_UNAUTHORIZED);
    expect(apiKeyError("Bearer x", "secret", "header")?.message).toMatch(/apikey <key>/);
    expect(apiKeyError(undefined, "", "header")).toBeNull();
  });
});
