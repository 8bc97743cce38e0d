// The journal as the supervisor uses it: recovery and the fold at open, staged
// groups for the router (accepted messages, checkpoints), fire-and-forget records
// (deliveries, acks, lifecycle), and retention.
//
// Retention works on whole segments. A segment is pinned while it holds the accept
// record of a message still owed or an agent's latest checkpoint. A segment that is
// not pinned and older than `retain` is removed. While the journal is over
// `maxBytes`, the oldest segments go even if young or pinned: what still pins one
// is copied forward (a carried accept or checkpoint) before it is removed. A
// segment more than half live is left: copying it frees little, and would recopy
// the same records every pass while more is owed than `maxBytes`. Disk use stays
// bounded by `maxBytes` plus about twice what is actually owed.
import { promises as fsp } from 'node:fs';
import type { RouterJournal } from './port.js';
import type { AnyNewRecord, AnyRecord } from './schema.js';
import { listSegments, syncDir } from './segment.js';
import { JournalState } from './state.js';
import { JournalWriter, type Committed, type FsyncPolicy, type JournalWriterStats } from './writer.js';
import type { RecoveryReport } from './recover.js';

export interface JournalOptions {
  fsync: FsyncPolicy;
  intervalMs?: number;
  segmentBytes?: number;
  /** Settled segments older than this are removed (ms). */
  retainMs: number;
  maxBytes: number;
  /** Records that nobody waits for (deliveries, acks, lifecycle) failed to be written. */
  noteFailed?: (err: Error) => void;
  now?: () => number;
}

/** What retention needs from the owner of the live messages: the records still live in a segment. */
export interface Carrier {
  /** Records to copy forward out of `segment`; `moved` is called with where they landed. */
  live(segment: number): { records: AnyNewRecord[]; moved(to: number): void };
}

export interface JournalUsage {
  dir: string;
  bytes: number;
  segments: number;
  lastSeq: number;
  fsync: FsyncPolicy;
  /** Writes that failed since start (a full disk, an I/O error). */
  failures: number;
  lastError: string | null;
}

export class Journal implements RouterJournal {
  private readonly pins = new Map<number, number>();
  /** Records written to each segment: with pins, how much of a segment is still live. */
  private readonly written = new Map<number, number>();
  private sweeping: Promise<void> | undefined;
  private lastError: string | null = null;

  private constructor(
    readonly writer: JournalWriter,
    /** Everything the journal held at open, folded. */
    readonly recovered: JournalState,
    private readonly opts: JournalOptions,
  ) {
    // What was owed at open pins its segments, until the supervisor settles it.
    for (const m of recovered.owed.values()) this.pin(m.segment, 1);
    for (const c of recovered.checkpoints.values()) this.pin(c.segment, 1);
  }

  private count(segment: number, n: number): void {
    this.written.set(segment, (this.written.get(segment) ?? 0) + n);
  }

  static async open(dir: string, opts: JournalOptions): Promise<Journal> {
    const state = new JournalState();
    const written = new Map<number, number>();
    const writer = await JournalWriter.open(dir, {
      fsync: opts.fsync, intervalMs: opts.intervalMs, segmentBytes: opts.segmentBytes, now: opts.now,
      onRecord: (r, segment) => {
        state.apply(r as AnyRecord, segment);
        written.set(segment, (written.get(segment) ?? 0) + 1);
      },
    });
    const journal = new Journal(writer, state, opts);
    for (const [segment, n] of written) journal.count(segment, n);
    return journal;
  }

  get dir(): string { return this.writer.dir; }
  get recovery(): RecoveryReport { return this.writer.recovery; }
  get stats(): JournalWriterStats { return this.writer.stats; }

  stage(recs: AnyNewRecord[], live: number, done: (err: Error | undefined, segment: number) => void): void {
    this.writer.enqueue(recs, (err, at) => {
      if (err) this.failed(err);
      else {
        this.count(at!.segment, recs.length);
        if (live) this.pin(at!.segment, live);
      }
      done(err, at?.segment ?? -1);
    });
  }

  note(rec: AnyNewRecord): void {
    this.writer.enqueue([rec], this.noted);
  }

  private readonly noted = (err: Error | undefined, at: Committed | undefined): void => {
    if (!err) return this.count(at!.segment, 1);
    this.failed(err);
    this.opts.noteFailed?.(err);
  };

  private failed(err: Error): void {
    this.lastError = err.message;
  }

  pin(segment: number, n: number): void {
    if (segment < 0) return;
    this.pins.set(segment, (this.pins.get(segment) ?? 0) + n);
  }

  release(segment: number): void {
    const n = this.pins.get(segment);
    if (n === undefined) return;
    if (n <= 1) this.pins.delete(segment);
    else this.pins.set(segment, n - 1);
  }

  /** Live records in `segment` (for tests and status). */
  pinned(segment: number): number {
    return this.pins.get(segment) ?? 0;
  }

  /** Resolves once everything appended so far is committed. */
  idle(): Promise<void> { return this.writer.idle(); }

  /**
   * Remove what retention allows; see the header. One pass at a time (a call during a
   * pass joins it); the tail segment is never removed.
   */
  sweep(carrier: Carrier): Promise<void> {
    this.sweeping ??= this.doSweep(carrier).finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async doSweep(carrier: Carrier): Promise<void> {
    const now = (this.opts.now ?? Date.now)();
    const segs = await listSegments(this.dir);
    const sized = await Promise.all(segs.map(async (s) => {
      try {
        const st = await fsp.stat(s.path);
        return { ...s, size: st.size, mtime: st.mtimeMs };
      } catch { return undefined; }
    }));
    const present = sized.filter((s) => s !== undefined);
    let total = present.reduce((n, s) => n + s.size, 0);
    const tailSeq = this.writer.tailSegment;
    let removed = 0;
    for (const seg of present) {
      if (seg.firstSeq >= tailSeq) break;
      const old = now - seg.mtime > this.opts.retainMs;
      const over = total > this.opts.maxBytes;
      if (!over && !(old && !this.pinned(seg.firstSeq))) continue;
      if (this.pinned(seg.firstSeq)) {
        // Copying forward a segment that is mostly live frees little and, while what is owed
        // exceeds max_size, would copy the same records round after round: leave those.
        if (!over || this.pinned(seg.firstSeq) * 2 > (this.written.get(seg.firstSeq) ?? 0)) continue;
        const { records, moved } = carrier.live(seg.firstSeq);
        if (records.length) {
          for (const r of records) (r as { carried?: number }).carried = seg.firstSeq;
          const to = await new Promise<number>((resolve, reject) => {
            this.writer.enqueue(records, (err, at) => (err ? reject(err) : resolve(at!.segment)));
          });
          this.pin(to, records.length);
          this.count(to, records.length);
          moved(to);
        }
        this.pins.delete(seg.firstSeq);
      }
      this.written.delete(seg.firstSeq);
      try {
        await fsp.unlink(seg.path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      total -= seg.size;
      removed++;
    }
    if (removed) await syncDir(this.dir);
  }

  async usage(): Promise<JournalUsage> {
    const segs = await listSegments(this.dir);
    let bytes = 0;
    for (const s of segs) {
      try { bytes += (await fsp.stat(s.path)).size; } catch { /* removed meanwhile */ }
    }
    return {
      dir: this.dir, bytes, segments: segs.length, lastSeq: this.writer.lastSeq, fsync: this.writer.policy,
      failures: this.writer.stats.failures, lastError: this.lastError,
    };
  }

  async close(): Promise<void> {
    await this.sweeping?.catch(() => {});
    await this.writer.close();
  }
}
