// JournalWriter: appends records to the tail segment with group commit.
// (About 320 lines, one state machine: the queued group, the tail segment's fd and its
// roll, and the failure latch are read and changed together by every commit path.)
//
// Appends queue up; one commit takes everything queued (one record at a time
// for `always`), encodes it into one buffer, does one positional write and, per
// the policy, one fsync, then resolves every append in it. Appends made while a
// commit is in flight form the next group, so under load the fsync cost is
// shared by everything that arrived meanwhile. All I/O is async on an fd.
import { promises as fsp, fsync as fsyncCb } from 'node:fs';
import { promisify } from 'node:util';
import { RecordBatch, type JournalRecord, type NewRecord } from './record.js';
import { recover, type RecoveryReport } from './recover.js';
import { DEFAULT_SEGMENT_BYTES, listSegments, openSegment, syncDir, type OpenSegment } from './segment.js';

/** The journal's fsync policies; the config's `journal.fsync` takes its list from here. */
export const FSYNC_POLICIES = ['always', 'batch', 'interval', 'none'] as const;
export type FsyncPolicy = (typeof FSYNC_POLICIES)[number];

export interface JournalWriterOptions {
  /** Default 'batch': one fsync per group commit. */
  fsync?: FsyncPolicy;
  /** Roll to a new segment once a write would take the tail past this. Default 64 MiB. */
  segmentBytes?: number;
  /** For 'interval'. Default 100 ms. */
  intervalMs?: number;
  /** The fsync used on segment fds (tests wrap it to count or fail). */
  fsyncFn?: (fd: number) => Promise<void>;
  /** Clock for records without `at`. */
  now?: () => number;
  /** Called with every valid record recovery finds, in order, with its segment's first seq. */
  onRecord?: (r: JournalRecord, segment: number) => void;
}

export interface JournalWriterStats {
  appends: number;
  commits: number;
  writes: number;
  fsyncs: number;
  bytesWritten: number;
  segmentsOpened: number;
  failures: number;
}

/** Why an append was rejected: the write (or its fsync) failed; nothing of that group is in the journal. */
export class JournalWriteError extends Error {
  readonly code: string | undefined;
  constructor(cause: unknown, extra = '') {
    const e = cause as NodeJS.ErrnoException;
    const code = typeof e?.code === 'string' ? e.code : undefined;
    const msg = e instanceof Error ? e.message : String(cause);
    super(`journal write failed: ${code ? `${code} ` : ''}(${msg})${extra}`, { cause });
    this.name = 'JournalWriteError';
    this.code = code;
  }
}

/** Where a committed group landed: the seq of its first record and the segment holding all of it. */
export interface Committed {
  firstSeq: number;
  /** The first seq of the segment the records were written to (a group never spans two). */
  segment: number;
}

/** Called once per enqueued entry: with an error (nothing of it is in the journal), or where it landed. */
export type CommitCallback = (err: Error | undefined, at: Committed | undefined) => void;

interface Pending {
  recs: NewRecord[];
  at: number;
  done: CommitCallback;
}

const defaultFsync = promisify(fsyncCb);

export class JournalWriter {
  readonly dir: string;
  readonly policy: FsyncPolicy;
  /** What recovery found when this writer opened the journal. */
  readonly recovery: RecoveryReport;
  readonly stats: JournalWriterStats = { appends: 0, commits: 0, writes: 0, fsyncs: 0, bytesWritten: 0, segmentsOpened: 0, failures: 0 };

  private seg: OpenSegment;
  private nextSeq: number;
  private readonly segmentBytes: number;
  private readonly fsyncFn: (fd: number) => Promise<void>;
  private readonly now: () => number;
  private pending: Pending[] = [];
  private scheduled = false;
  private busy = false;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];
  private broken: Error | undefined;
  private closed = false;

  private constructor(dir: string, seg: OpenSegment, nextSeq: number, recovery: RecoveryReport, opts: JournalWriterOptions) {
    this.dir = dir;
    this.seg = seg;
    this.nextSeq = nextSeq;
    this.recovery = recovery;
    this.policy = opts.fsync ?? 'batch';
    if (!FSYNC_POLICIES.includes(this.policy)) throw new TypeError(`unknown fsync policy ${String(this.policy)}`);
    this.segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.fsyncFn = opts.fsyncFn ?? defaultFsync;
    this.now = opts.now ?? Date.now;
    this.stats.segmentsOpened = 1;
    if (this.policy === 'interval') {
      this.timer = setInterval(() => this.intervalTick(), opts.intervalMs ?? 100);
      this.timer.unref();
    }
  }

  /** Recover the journal in `dir` (see recover()), then open its tail for appending. */
  static async open(dir: string, opts: JournalWriterOptions = {}): Promise<JournalWriter> {
    const recovery = await recover(dir, opts.onRecord);
    const nextSeq = recovery.lastSeq + 1;
    const segs = await listSegments(dir);
    const tail = segs[segs.length - 1];
    let seg: OpenSegment;
    if (tail) {
      seg = await openSegment(dir, tail.firstSeq);
      if (seg.size === 0 && tail.firstSeq !== nextSeq) {
        // An empty tail whose name no longer matches the next seq (its records were torn off).
        await seg.handle.close();
        await fsp.unlink(tail.path);
        seg = await openSegment(dir, nextSeq);
      }
    } else {
      seg = await openSegment(dir, nextSeq);
    }
    if ((opts.fsync ?? 'batch') !== 'none') await syncDir(dir);
    return new JournalWriter(dir, seg, nextSeq, recovery, opts);
  }

  /** The seq of the last durable-or-written record (0 if none). */
  get lastSeq(): number { return this.nextSeq - 1; }
  /** The first seq of the segment being appended to. */
  get tailSegment(): number { return this.seg.info.firstSeq; }
  /** The tail segment's path and size. */
  get tail(): { path: string; size: number } { return { path: this.seg.info.path, size: this.seg.size }; }

  /**
   * Append one record; resolves with its seq once it is written (and fsynced,
   * for 'always' and 'batch'). Rejects with JournalWriteError if the write
   * failed: then the record is not in the journal.
   */
  append(rec: NewRecord): Promise<number> {
    return new Promise<number>((resolve, reject) => this.enqueue([rec], (err, at) => (err ? reject(err) : resolve(at!.firstSeq))));
  }

  /**
   * Append records that commit together, in order, with one callback: the router's
   * way in, which stages a whole read's worth of messages without a promise each.
   * The callback may run synchronously when the writer is closed or broken.
   */
  enqueue(recs: NewRecord[], done: CommitCallback): void {
    if (this.closed) return done(new Error('journal writer is closed'), undefined);
    if (this.broken) return done(this.broken, undefined);
    this.stats.appends += recs.length;
    this.pending.push({ recs, at: this.now(), done });
    this.kick();
  }

  /** Nothing queued, nothing being written. */
  get quiet(): boolean { return !this.busy && !this.scheduled && this.pending.length === 0; }

  /** Resolves once everything appended so far has been committed (or rejected). */
  idle(): Promise<void> {
    if (!this.busy && !this.scheduled && this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Commit what is queued, fsync regardless of policy. */
  async sync(): Promise<void> {
    while (this.busy || this.scheduled || this.pending.length) await this.idle();
    if (this.broken || this.closed) return;
    this.busy = true;
    try { await this.doFsync(); this.dirty = false; } finally { this.finishBusy(); }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true; // new appends are refused; queued ones still commit
    while (this.busy || this.scheduled || this.pending.length) await this.idle();
    if (this.timer) clearInterval(this.timer);
    if (!this.broken && this.policy !== 'none' && (this.dirty || this.policy === 'interval')) {
      await this.doFsync().catch(() => {});
    }
    await this.seg.handle.close();
  }

  private kick(): void {
    if (this.busy || this.scheduled) return;
    this.scheduled = true;
    // setImmediate rather than a microtask: appends made by several callbacks of
    // the same event-loop turn join one group.
    setImmediate(() => { this.scheduled = false; void this.run(); });
  }

  private finishBusy(): void {
    this.busy = false;
    if (this.pending.length) { this.kick(); return; }
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private async run(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.pending.length) {
        if (this.broken) {
          const dead = this.pending;
          this.pending = [];
          for (const p of dead) p.done(this.broken, undefined);
          break;
        }
        let group: Pending[];
        if (this.policy === 'always') group = this.pending.splice(0, 1);
        else { group = this.pending; this.pending = []; }
        await this.commit(group);
      }
    } finally {
      this.finishBusy();
    }
  }

  private async doFsync(): Promise<void> {
    this.stats.fsyncs++;
    await this.fsyncFn(this.seg.fd);
  }

  private async roll(firstSeq: number): Promise<void> {
    if (this.policy !== 'none') await this.doFsync();
    // The new file first: if it cannot be created (a full disk), the old one stays the tail, still open.
    const next = await openSegment(this.dir, firstSeq);
    const old = this.seg;
    this.seg = next;
    await old.handle.close().catch(() => {});
    this.stats.segmentsOpened++;
    if (this.policy !== 'none') await syncDir(this.dir);
  }

  private async commit(group: Pending[]): Promise<void> {
    this.stats.commits++;
    const firstSeq = this.nextSeq;
    const batch = new RecordBatch(Math.min(1 << 20, group.length * 160 + 64));
    const ok: Array<{ p: Pending; seq: number }> = [];
    let seq = firstSeq;
    for (const p of group) {
      const mark = batch.mark();
      try {
        for (let i = 0; i < p.recs.length; i++) {
          const rec = p.recs[i]!;
          batch.add(rec, seq + i, rec.at ?? p.at);
        }
      } catch (err) {
        // An entry commits whole or not at all.
        batch.reset(mark);
        p.done(new Error(`journal record not encodable: ${(err as Error).message}`), undefined);
        continue;
      }
      ok.push({ p, seq });
      seq += p.recs.length;
    }
    if (ok.length === 0) return;
    const bytes = batch.bytes();

    try {
      if (this.seg.size > 0 && this.seg.size + bytes.length > this.segmentBytes) await this.roll(firstSeq);
    } catch (err) {
      this.fail(ok, err, '');
      return;
    }

    const start = this.seg.size;
    try {
      let off = 0;
      while (off < bytes.length) {
        const { bytesWritten } = await this.seg.handle.write(bytes, off, bytes.length - off, start + off);
        off += bytesWritten;
      }
      this.stats.writes++;
      if (this.policy === 'always' || this.policy === 'batch') await this.doFsync();
    } catch (err) {
      // Put the file back to its last good end so no partial group survives.
      let extra = '';
      try { await this.seg.handle.truncate(start); } catch (terr) {
        extra = `; truncating ${this.seg.info.path} back to ${start} also failed: ${(terr as Error).message}`;
      }
      this.fail(ok, err, extra);
      return;
    }
    this.seg.size = start + bytes.length;
    this.stats.bytesWritten += bytes.length;
    this.nextSeq = seq;
    if (this.policy === 'interval' || this.policy === 'none') this.dirty = true;
    const segment = this.seg.info.firstSeq;
    for (const { p, seq: s } of ok) p.done(undefined, { firstSeq: s, segment });
  }

  private fail(ok: Array<{ p: Pending }>, cause: unknown, extra: string): void {
    this.stats.failures++;
    const err = new JournalWriteError(cause, extra);
    // A file we could not cut back is in an unknown state: stop writing to it.
    if (extra) this.broken = err;
    for (const { p } of ok) p.done(err, undefined);
  }

  private intervalTick(): void {
    if (!this.dirty || this.busy || this.closed || this.broken) return;
    this.busy = true;
    this.dirty = false;
    this.doFsync().catch((err: unknown) => {
      // Written records may not be on disk: refuse further appends rather than pretend.
      this.broken = new JournalWriteError(err, ' (interval fsync)');
      this.stats.failures++;
    }).finally(() => this.finishBusy());
  }
}
