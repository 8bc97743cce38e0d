// The journal as the supervisor uses it: recovery and the fold at open, staged
// groups for the router (accepted messages, checkpoints), fire-and-forget records
// (deliveries, acks, lifecycle), retention, and a tail lost under it recreated.
// (About 350 lines: retention and the recreation of a lost journal both read and
// change the pins and per-segment counts that staging keeps; apart, each would
// reach into the other's state.)
//
// Retention works on whole segments. A segment is pinned while it holds the accept
// record of a message still owed or an agent's latest checkpoint. A segment that is
// not pinned and older than `retain` is removed. While the journal is over
// `maxBytes`, the oldest segments go even if young or pinned: what still pins one
// is copied forward (a carried accept or checkpoint) before it is removed. A
// segment more than half live is left: copying it frees little, and would recopy
// the same records every pass while more is owed than `maxBytes`. Settled segments
// go before pinned ones: removing them needs no room, copying forward does. Marks (a
// schedule's last fired slot) pin nothing: they are copied forward whenever the
// segment holding them goes, so a fact older than `retain` outlives its segment.
//
// `maxBytes` is a bound, not a target: the writer refuses a group that would pass
// it less `headroom` (the room kept for carried copies, which may use it), after
// asking for room once (see writer.ts). Retention runs on a timer, on every segment
// roll (so that the next segment has room before it is needed), when a group would
// pass the bound, and on a full disk, where settled segments go whatever their age.
import { promises as fsp } from 'node:fs';
import type { RouterJournal } from './port.js';
import type { AnyNewRecord, AnyRecord } from './schema.js';
import { DEFAULT_SEGMENT_BYTES, listSegments, syncDir } from './segment.js';
import { JournalState } from './state.js';
import { JournalWriter, type Committed, type FsyncPolicy, type JournalWriterStats, type ReclaimWhy } from './writer.js';
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
  /**
   * Marks in `segment` (all of them: undefined): small records that keep a fact alive
   * without pinning their segment (a schedule's last fired slot), copied forward
   * whenever their segment goes, so that no segment is kept for them alone.
   */
  marks?(segment: number | undefined): { records: AnyNewRecord[]; moved(to: number): void };
}

const NO_MARKS = { records: [] as AnyNewRecord[], moved: (): void => {} };

/** The journal's directory or tail segment was found gone under the running writer, and recreated. */
export interface JournalLoss {
  at: number;
  reason: string;
  /** Owed messages and latest checkpoints copied from memory into the new tail. */
  carried: number;
  checkpoints: number;
  /** Set when the copies could not be written (they are still in memory). */
  error?: string;
}

/** Retention freed room because it was needed: a roll, a write over the bound, a full disk. */
export interface Reclaimed {
  why: ReclaimWhy;
  removed: number;
  /** Bytes of segment files before and after. */
  before: number;
  after: number;
}

/** Told what the journal did on its own, for the supervisor's log. */
export interface JournalWatcher {
  lost?(loss: JournalLoss): void;
  reclaimed?(r: Reclaimed): void;
  sweepFailed?(err: Error): void;
}

export interface JournalUsage {
  dir: string;
  bytes: number;
  segments: number;
  lastSeq: number;
  fsync: FsyncPolicy;
  /** Writes that failed since the last one that succeeded: not 0 while the journal is failing. */
  failures: number;
  /** Writes that failed since start (a full disk, an I/O error, the bound). */
  failuresTotal: number;
  lastError: string | null;
  /** Every time the journal was lost under this run and recreated. */
  losses: JournalLoss[];
}

/** Room kept under maxBytes for carried copies: half a segment, at most a quarter of the bound. */
export const headroomFor = (maxBytes: number, segmentBytes = DEFAULT_SEGMENT_BYTES): number =>
  Math.floor(Math.min(segmentBytes / 2, maxBytes / 4));

export class Journal implements RouterJournal {
  private readonly pins = new Map<number, number>();
  /** Records written to each segment: with pins, how much of a segment is still live. */
  private readonly written = new Map<number, number>();
  private sweeping: Promise<void> | undefined;
  private lastError: string | null = null;
  private failing = 0;
  private carrier: Carrier | undefined;
  private watcher: JournalWatcher = {};
  readonly losses: JournalLoss[] = [];

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
    let journal: Journal | undefined;
    const writer = await JournalWriter.open(dir, {
      fsync: opts.fsync, intervalMs: opts.intervalMs, segmentBytes: opts.segmentBytes, now: opts.now,
      maxBytes: opts.maxBytes, headroom: headroomFor(opts.maxBytes, opts.segmentBytes),
      onRecord: (r, segment) => {
        state.apply(r as AnyRecord, segment);
        written.set(segment, (written.get(segment) ?? 0) + 1);
      },
      // Only called from commits, which start once open has returned.
      reclaim: (why, need) => journal!.reclaim(why, need),
      lost: (reason) => journal!.relink(reason),
    });
    journal = new Journal(writer, state, opts);
    for (const [segment, n] of written) journal.count(segment, n);
    return journal;
  }

  get dir(): string { return this.writer.dir; }
  get recovery(): RecoveryReport { return this.writer.recovery; }
  get stats(): JournalWriterStats { return this.writer.stats; }

  /** Who copies live records forward (the supervisor's retention), and who hears what the journal did on its own. */
  serve(carrier: Carrier, watcher: JournalWatcher = {}): void {
    this.carrier = carrier;
    this.watcher = watcher;
  }

  stage(recs: AnyNewRecord[], live: number, done: (err: Error | undefined, segment: number) => void, urgent = false): void {
    this.writer.enqueue(recs, (err, at) => {
      if (err) this.failed(err);
      else {
        this.failing = 0;
        this.count(at!.segment, recs.length);
        if (live) this.pin(at!.segment, live);
      }
      done(err, at?.segment ?? -1);
    }, urgent);
  }

  note(rec: AnyNewRecord, lazy = false): void {
    this.writer.enqueue([rec], this.noted, false, lazy);
  }

  private readonly noted = (err: Error | undefined, at: Committed | undefined): void => {
    if (!err) {
      this.failing = 0;
      return this.count(at!.segment, 1);
    }
    this.failed(err);
    this.opts.noteFailed?.(err);
  };

  private failed(err: Error): void {
    this.failing++;
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
   * Remove what retention allows; see the header. Runs in the writer's turn, between
   * commits; a call during a pass joins it. The tail segment is never removed.
   */
  sweep(carrier?: Carrier): Promise<void> {
    if (carrier) this.carrier = carrier;
    this.sweeping ??= this.writer.exclusive(async () => { await this.doSweep('timer', 0); }).finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  /** The writer needs room (in its turn): a pass aimed at what it needs, reported when it freed any. */
  private async reclaim(why: ReclaimWhy, need: number): Promise<void> {
    const before = this.writer.diskBytes;
    try {
      const removed = await this.doSweep(why, need);
      if (removed) this.watcher.reclaimed?.({ why, removed, before, after: this.writer.diskBytes });
    } catch (err) {
      this.watcher.sweepFailed?.(err as Error);
      throw err;
    }
  }

  /** How far a pass brings the segment files down: see the header. */
  private target(why: ReclaimWhy | 'timer', need: number): number {
    const { maxBytes } = this.opts;
    const limit = maxBytes - headroomFor(maxBytes, this.opts.segmentBytes);
    switch (why) {
      case 'timer': return maxBytes;
      // Room for the whole next segment, so that a steady stream never meets the bound.
      case 'roll': return limit - (this.opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES);
      case 'full': return limit - need;
      // The disk is full, whatever the bound says: everything settled goes.
      case 'nospace': return 0;
    }
  }

  /** One pass; how many segments it removed. */
  private async doSweep(why: ReclaimWhy | 'timer', need: number): Promise<number> {
    const now = (this.opts.now ?? Date.now)();
    const segs = await listSegments(this.dir);
    const sized = await Promise.all(segs.map(async (s) => {
      try {
        const st = await fsp.stat(s.path);
        return { ...s, size: st.size, mtime: st.mtimeMs };
      } catch { return undefined; }
    }));
    const present = sized.filter((s) => s !== undefined);
    // Settled segments first, oldest first: removing them needs no room, and copying forward does (the bound, a full disk).
    present.sort((x, y) => Number(this.pinned(x.firstSeq) > 0) - Number(this.pinned(y.firstSeq) > 0) || x.firstSeq - y.firstSeq);
    let total = present.reduce((n, s) => n + s.size, 0);
    const target = this.target(why, need);
    const tailSeq = this.writer.tailSegment;
    let removed = 0;
    for (const seg of present) {
      if (seg.firstSeq >= tailSeq) continue;
      const old = now - seg.mtime > this.opts.retainMs;
      const over = total > target;
      if (!over && !(old && !this.pinned(seg.firstSeq))) continue;
      // Copying forward a segment that is mostly live frees little and, while what is owed
      // exceeds max_size, would copy the same records round after round: leave those.
      if (this.pinned(seg.firstSeq) && (!over || this.pinned(seg.firstSeq) * 2 > (this.written.get(seg.firstSeq) ?? 0))) continue;
      if (!(await this.carry(seg.firstSeq, seg.size))) continue;
      this.written.delete(seg.firstSeq);
      try {
        await fsp.unlink(seg.path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      this.writer.forget(seg.firstSeq);
      total -= seg.size;
      removed++;
    }
    if (removed) {
      await syncDir(this.dir);
      await this.writer.rescan();
    }
    return removed;
  }

  /**
   * Copy what is live in `segment` (what pins it, and its marks) forward, so that it can
   * go; false when that could not be written (it stays).
   */
  private async carry(segment: number, size: number): Promise<boolean> {
    const pinned = this.pinned(segment) > 0;
    if (pinned && !this.carrier) return false;
    const live = pinned ? this.carrier!.live(segment) : NO_MARKS;
    const marks = this.carrier?.marks?.(segment) ?? NO_MARKS;
    const records = [...live.records, ...marks.records];
    if (records.length) {
      for (const r of records) (r as { carried?: number }).carried = segment;
      let to: number;
      try {
        to = (await this.writer.writeNow(records, size)).segment;
      } catch {
        return false; // no room for the copies: the segment stays, and so does what it holds
      }
      this.pin(to, live.records.length);
      this.count(to, records.length);
      live.moved(to);
      marks.moved(to);
    }
    this.pins.delete(segment);
    return true;
  }

  /**
   * The tail was lost and the writer opened a new one (in the writer's turn): say so in
   * the new journal, and copy into it everything still live in the old segments, from
   * memory. The files that held them may be gone: what is owed must not depend on them.
   */
  private async relink(reason: string): Promise<void> {
    const tail = this.writer.tailSegment;
    const records: AnyNewRecord[] = [];
    const moves: Array<{ from: number; moved: (to: number) => void }> = [];
    let checkpoints = 0;
    for (const segment of [...this.pins.keys()]) {
      if (segment === tail || !this.carrier) continue;
      const live = this.carrier.live(segment);
      for (const r of live.records) {
        (r as { carried?: number }).carried = segment;
        if (r.type === 'checkpoint') checkpoints++;
      }
      records.push(...live.records);
      moves.push({ from: segment, moved: live.moved });
    }
    const loss: JournalLoss = { at: (this.opts.now ?? Date.now)(), reason, carried: records.length - checkpoints, checkpoints };
    const lost: AnyNewRecord = { type: 'lost', reason, carried: loss.carried, checkpoints };
    // Every mark: the old segments that held them are gone.
    const marks = this.carrier?.marks?.(undefined) ?? NO_MARKS;
    try {
      const at = await this.writer.writeNow([lost, ...records, ...marks.records]);
      this.count(at.segment, records.length + marks.records.length + 1);
      this.pin(at.segment, records.length);
      for (const m of moves) {
        this.pins.delete(m.from);
        m.moved(at.segment);
      }
      marks.moved(at.segment);
    } catch (err) {
      loss.error = (err as Error).message;
      await this.writer.writeNow([{ ...lost, carried: 0, checkpoints: 0 }]).catch(() => {});
    }
    this.losses.push(loss);
    this.watcher.lost?.(loss);
  }

  async usage(): Promise<JournalUsage> {
    const segs = await listSegments(this.dir);
    let bytes = 0;
    for (const s of segs) {
      try { bytes += (await fsp.stat(s.path)).size; } catch { /* removed meanwhile */ }
    }
    return {
      dir: this.dir, bytes, segments: segs.length, lastSeq: this.writer.lastSeq, fsync: this.writer.policy,
      failures: this.failing, failuresTotal: this.writer.stats.failures, lastError: this.lastError, losses: [...this.losses],
    };
  }

  async close(): Promise<void> {
    await this.sweeping?.catch(() => {});
    await this.writer.close();
  }
}
