import { describe, expect, it } from "vitest";
import { DisconnectCode, ErrorCode } from "../../src/gen/realtime/v1/types.js";
import * as client from "../../clients/js/src/types.js";

/**
 * The browser client loads nothing generated, so it spells the codes of types.proto out by
 * hand: this keeps the two in step (a code added to the proto and missing here fails).
 */
function protoCodes(e: Record<string, string | number>, prefix: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(e))
    if (typeof value === "number" && name.startsWith(prefix) && value > 0) out[name.slice(prefix.length)] = value;
  return out;
}

describe("browser client codes", () => {
  it("has every error code of types.proto, with the same values", () => {
    expect({ ...client.ErrorCode }).toEqual(protoCodes(ErrorCode, "ERROR_CODE_"));
  });

  it("has every disconnect code of types.proto, with the same values", () => {
    expect({ ...client.DisconnectCode }).toEqual(protoCodes(DisconnectCode, "DISCONNECT_CODE_"));
  });
});
