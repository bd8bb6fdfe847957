/**
 * A token bucket: `burst` tokens at most, refilled at `rate` per second; each take() spends one.
 * Time is given by the caller (the node's clock), so tests move it instead of sleeping.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.at = now;
  }

  /** Spends a token if there is one: whether there was. */
  take(now: number): boolean {
    // A clock that steps back (NTP) must not drain the bucket: elapsed time is never negative.
    this.tokens = Math.min(this.burst, this.tokens + (Math.max(0, now - this.at) * this.rate) / 1000);
    this.at = Math.max(this.at, now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
