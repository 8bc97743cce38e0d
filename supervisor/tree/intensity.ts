// Restart intensity: the sliding window each supervisor keeps of its own restarts.
// Same rule as OTP's add_restart/can_restart: keep restarts no older than the period
// (a restart exactly `periodMs` ago still counts), then compare the count.

export class RestartHistory {
  private times: number[] = [];

  constructor(
    readonly intensity: number,
    readonly periodMs: number,
  ) {}

  /** Records a restart at `now`; false when it is one too many and the supervisor must escalate. */
  record(now: number): boolean {
    const threshold = now - this.periodMs;
    this.times = this.times.filter((t) => t >= threshold);
    this.times.push(now);
    return this.times.length <= this.intensity;
  }

  /** A restarted supervisor is a new process in OTP: it remembers nothing. */
  clear(): void {
    this.times = [];
  }

  get size(): number {
    return this.times.length;
  }
}
