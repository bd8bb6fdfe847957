import type { Config } from "./config.js";
import { Disconnect, HubError } from "./errors.js";
import { DisconnectCode, ErrorCode } from "./gen/realtime/v1/types.js";
import { TokenBucket } from "./token-bucket.js";

/** What the rate limits say about one command. */
export type RateVerdict = "ok" | "command_rate" | "publish_rate" | "rate_flood";

/** One rate: the bucket that lets commands through, and the grace left for refused ones. */
interface Rate {
  allowed: TokenBucket;
  /**
   * Refused commands spend this second bucket of the same rate and burst: a client a little
   * over its rate (a burst after a reconnect) only gets errors, one that keeps sending at twice
   * its rate or more empties it too and is closed, since it ignores the errors.
   */
  grace: TokenBucket;
}

/** Burst 0 means one second's worth of the rate (at least one command). */
function rateOf(rate: number, burst: number, now: number): Rate | undefined {
  if (rate <= 0) return undefined;
  const b = burst > 0 ? burst : Math.max(1, Math.ceil(rate));
  return { allowed: new TokenBucket(rate, b, now), grace: new TokenBucket(rate, b, now) };
}

function check(r: Rate | undefined, now: number): "ok" | "refused" | "rate_flood" {
  if (!r || r.allowed.take(now)) return "ok";
  return r.grace.take(now) ? "refused" : "rate_flood";
}

/**
 * The command rate (`clientCommandRate`/`clientCommandBurst`) and publish rate
 * (`clientPublishRate`/`clientPublishBurst`) of one connection; a rate of 0 is no limit.
 */
export class ClientRates {
  private readonly command: Rate | undefined;
  private readonly publish: Rate | undefined;

  constructor(cfg: Pick<Config, "clientCommandRate" | "clientCommandBurst" | "clientPublishRate" | "clientPublishBurst">, now: number) {
    this.command = rateOf(cfg.clientCommandRate, cfg.clientCommandBurst, now);
    this.publish = rateOf(cfg.clientPublishRate, cfg.clientPublishBurst, now);
  }

  /** Counts one command (a publish when `isPublish`) at `now`. */
  check(isPublish: boolean, now: number): RateVerdict {
    const c = check(this.command, now);
    if (c !== "ok") return c === "rate_flood" ? "rate_flood" : "command_rate";
    // A command refused above spends no publish token: the publish did not happen.
    if (!isPublish) return "ok";
    const p = check(this.publish, now);
    return p === "ok" ? "ok" : p === "rate_flood" ? "rate_flood" : "publish_rate";
  }
}

/** The error of a command refused by a rate: temporary, it may be sent again a little later. */
export function rateError(limit: "command_rate" | "publish_rate", cfg: Pick<Config, "clientCommandRate" | "clientPublishRate">): HubError {
  const what = limit === "command_rate" ? `commands (clientCommandRate ${cfg.clientCommandRate}/s)` : `publishes (clientPublishRate ${cfg.clientPublishRate}/s)`;
  return new HubError(ErrorCode.ERROR_CODE_TOO_MANY_REQUESTS, `too many ${what}: slow down`, true);
}

/** A client that ignores error 111 and keeps sending at twice its rate or more. */
export const disconnectFlood = new Disconnect(DisconnectCode.DISCONNECT_CODE_BAD_REQUEST, "too many requests: going on far past the rate limit");
