// @ts-check
/**
 * The server's per-socket rate limit (a token bucket: `hello.limits.rate_per_second` refill, `rate_burst` size),
 * mirrored on this side so that frames leave at a pace the server accepts instead of being refused with
 * `rate_limited`. The bucket here holds half the server's burst: frames that leave evenly may still arrive
 * bunched (a slow network), and the margin absorbs that.
 */
export class Pacer {
  /**
   * @param {number} ratePerSecond
   * @param {number} burst the server's bucket size
   * @param {number} now milliseconds
   */
  constructor(ratePerSecond, burst, now) {
    this.rate = Math.max(0.1, ratePerSecond) / 1000;
    this.size = Math.max(1, Math.floor(burst / 2));
    this.tokens = this.size;
    this.updated = now;
  }

  /** @param {number} now */
  refill(now) {
    this.tokens = Math.min(this.size, this.tokens + (now - this.updated) * this.rate);
    this.updated = now;
  }

  /**
   * Milliseconds until a frame may leave (0: now).
   * @param {number} now
   */
  wait(now) {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) / this.rate);
  }

  /** @param {number} now */
  take(now) {
    this.refill(now);
    this.tokens -= 1;
  }

  /**
   * The server refused a frame for its rate: its bucket is empty, so this one starts again from empty.
   * @param {number} now
   */
  drain(now) {
    this.refill(now);
    this.tokens = Math.min(this.tokens, 0);
  }
}
