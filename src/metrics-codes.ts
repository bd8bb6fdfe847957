import { DisconnectCode, ErrorCode } from "./gen/realtime/v1/types.js";

const codes = (e: object) => new Set<number>(Object.values(e).filter((v): v is number => typeof v === "number" && v >= 0));
export const KNOWN_ERRORS: ReadonlySet<number> = codes(ErrorCode);
export const KNOWN_DISCONNECTS: ReadonlySet<number> = codes(DisconnectCode);

/**
 * A `code` label: the protocol's own codes as they are; anything else (a webhook's answer
 * may carry any number) is "other", so the series stay few whatever a backend sends.
 */
export function codeLabel(known: ReadonlySet<number>, code: number): string {
  return known.has(code) ? String(code) : "other";
}
