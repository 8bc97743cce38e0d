// A failing journal (a full disk) fails every write until it is fixed: logged at
// most every few seconds, with what it cost since the last report.
import type { Logger } from '../logs/logger.js';

/** How often a journal that keeps failing is reported. */
const JOURNAL_ERROR_REPORT_MS = 5000;

export class JournalFailures {
  private count = 0;
  private last = 0;
  private refused = 0;

  constructor(private readonly log: Logger) {}

  /** A write failed; `refused` sends were refused (EJOURNAL) for it. */
  failed(err: Error, refused: number): void {
    this.count++;
    this.refused += refused;
    const now = Date.now();
    if (now - this.last < JOURNAL_ERROR_REPORT_MS) return;
    this.log.error({ err: err.message, failures: this.count, refusedSends: this.refused }, 'journal write failed: sends are refused (EJOURNAL) until it can be written again; nothing accepted before is lost');
    this.last = now;
    this.count = 0;
    this.refused = 0;
  }
}
