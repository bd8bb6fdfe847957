import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { DisconnectCode, ErrorCode, UnsubscribeCode } from "../../src/gen/realtime/v1/types.js";
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

/** The codes listed in the first column of docs/protocol.md's table under `heading`. */
function documentedCodes(heading: string): number[] {
  const doc = readFileSync(new URL("../../docs/protocol.md", import.meta.url), "utf8");
  const start = doc.indexOf(heading);
  expect(start, heading).toBeGreaterThanOrEqual(0);
  const next = doc.indexOf("\n#", start + heading.length);
  const section = doc.slice(start, next < 0 ? undefined : next);
  return [...section.matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1]));
}

describe("docs/protocol.md codes", () => {
  it("documents every error code of types.proto, and no other", () => {
    expect(documentedCodes("## Errors").sort()).toEqual(Object.values(protoCodes(ErrorCode, "ERROR_CODE_")).sort());
  });

  it("documents every disconnect code of types.proto (and the WebSocket 1009 the hub sends)", () => {
    expect(documentedCodes("## Disconnect codes").sort()).toEqual([...Object.values(protoCodes(DisconnectCode, "DISCONNECT_CODE_")), 1009].sort());
  });

  it("documents every unsubscribe code of types.proto, and no other", () => {
    expect(documentedCodes("## Unsubscribe codes").sort()).toEqual(Object.values(protoCodes(UnsubscribeCode, "UNSUBSCRIBE_CODE_")).sort());
  });
});
