// Reconnection delays: exponential with full jitter ("Exponential Backoff And Jitter", AWS architecture blog), so
// that many clients dropped at the same moment do not come back at the same moment.

export interface BackoffOptions {
  /** Upper bound of the first delay, in ms (default 200). */
  minDelay?: number;
  /** Upper bound of any delay, in ms (default 10 000). */
  maxDelay?: number;
}

export class Backoff {
  private attempts = 0;
  private readonly minDelay: number;
  private readonly maxDelay: number;

  constructor(options: BackoffOptions = {}, private readonly random: () => number = Math.random) {
    this.minDelay = Math.max(0, options.minDelay ?? 200);
    this.maxDelay = Math.max(this.minDelay, options.maxDelay ?? 10_000);
  }

  /** How many delays were handed out since the last reset. */
  get attempt(): number {
    return this.attempts;
  }

  /** The next delay: uniform in [0, min(maxDelay, minDelay * 2^attempt)]. */
  next(): number {
    // Capping the exponent keeps 2^n finite however long the client keeps trying.
    const ceiling = Math.min(this.maxDelay, this.minDelay * Math.pow(2, Math.min(this.attempts, 30)));
    this.attempts++;
    return Math.round(this.random() * ceiling);
  }

  reset(): void {
    this.attempts = 0;
  }
}
