// A circuit breaker for the cache: after `failuresMax` consecutive failures it opens for `openMs`, and every
// call in that time is skipped at once, so a dead or slow Redis costs microseconds, not timeouts.
export class CircuitBreaker {
  private failures = 0;
  private openUntilMs = 0;

  constructor(private readonly failuresMax = 3, private readonly openMs = 1000, private readonly now = () => Date.now()) {}

  /** True when calls may go through (closed, or half-open after the pause: one trial). */
  allow(): boolean {
    return this.now() >= this.openUntilMs;
  }

  isOpen(): boolean {
    return !this.allow();
  }

  success(): void {
    this.failures = 0;
    this.openUntilMs = 0;
  }

  failure(): void {
    this.failures++;
    if (this.failures >= this.failuresMax) this.openUntilMs = this.now() + this.openMs;
  }
}
