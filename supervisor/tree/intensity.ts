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

  /** The same restarts judged by a new rule (a reload changed intensity or period): the window is kept, not forgotten. */
  resized(intensity: number, periodMs: number): RestartHistory {
    const h = new RestartHistory(intensity, periodMs);
    h.times = [...this.times];
    return h;
  }

  /** Restarts no older than the period at `now`. */
  count(now: number): number {
    return this.times.filter((t) => t >= now - this.periodMs).length;
  }

  get size(): number {
    return this.times.length;
  }
}
