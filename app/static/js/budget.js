// A token bucket like the server's flood control (docs/protocol.md, "Flood control"): the page
// spends from it before sending, so it never sends what the server would refuse.

export class TokenBucket {
  /** `rate` tokens a second, at most `burst` saved up; starts full. */
  constructor(rate, burst) {
    this.rate = rate;
    this.burst = burst;
    this.tokens = burst;
    this.at = Date.now();
    this.pausedUntil = 0;
  }

  refill(now) {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.rate);
    this.at = now;
  }

  /** Spend one token if there is one (and no pause): true means "send it". */
  take(now = Date.now()) {
    this.refill(now);
    if (now < this.pausedUntil || this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until `take` can succeed. */
  wait(now = Date.now()) {
    this.refill(now);
    const refilled = this.tokens >= 1 ? 0 : ((1 - this.tokens) / this.rate) * 1000;
    return Math.max(refilled, this.pausedUntil - now, 0);
  }

  /** The server said `rate_limited`: nothing until `ms` from now, and start again from empty. */
  pause(ms, now = Date.now()) {
    this.refill(now);
    this.tokens = 0;
    this.pausedUntil = Math.max(this.pausedUntil, now + ms);
  }
}
