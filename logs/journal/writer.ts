// JournalWriter: appends records to the tail segment with group commit.
// (About 600 lines, one state machine: the queued groups and tasks, the tail segment's
// fd, its roll and its loss, the bytes on disk against the bound, and the failure
// latch are read and changed together by every commit path; split, each part would
// need all the others' state.)
//
// Appends queue up; one commit takes everything queued (one record at a time
// for `always`), encodes it into one buffer, does one positional write and, per
// the policy, one fsync, then resolves every append in it. Appends made while a
// commit is in flight form the next group, so under load the fsync cost is
// shared by everything that arrived meanwhile. fsyncs are async on an fd; a
// group's write (up to SYNC_WRITE_MAX bytes) is a synchronous pwrite: into the
// page cache it costs a few µs, less than the thread-pool round trip an async one
// takes, which was most of a request's latency under `interval` (bench/route.ts).
//
// Lazy entries (the router's deliver and ack records: losing the last few to a
// crash means a redelivery, nothing more) need no fsync of their own under `batch`:
// a group made only of them is written and not fsynced; the next fsync, of any
// later group, a roll or close, covers them (`always` still fsyncs every record). A request's round trip then waits for its accept's fsync, not
// also for those of the records its delivery and reply left behind.
//
// Two things keep a latency-bound append (an interactive or user send: `urgent`)
// from waiting out a flood's commits: a group holds at most MAX_GROUP_RECORDS, so
// the commit in flight when it arrives is a short one; and urgent entries commit
// first, in a group of their own, ahead of the backlog queued before them. Each
// entry still commits whole, and nothing passes a queued task (retention).
//
// Three things can stop a write, and each is handled inside the writer's turn, so
// that nothing else writes meanwhile and seqs stay in order:
// - the bound (`maxBytes`): a group that would take the segment files past it first
//   asks `reclaim` for room, then is refused (JournalFullError) rather than written;
// - a full disk (ENOSPC, EDQUOT): the partial write is cut back, `reclaim` is asked
//   for room, and the group is written once more before it is refused;
// - the tail lost under the writer (the segment unlinked, the directory removed,
//   replaced or renamed): each commit checks, after its write and before anything in
//   it is acknowledged, that the tail's path still names the file it writes. The check
//   is one synchronous stat(2) of that path compared with the fd's device and inode:
//   a few µs per commit (per group, not per message), cheaper than the thread-pool
//   round trip of an asynchronous one. fstat(2) on the fd (st_nlink == 0) would cost
//   the same but miss a directory renamed away or a segment replaced by another file.
//   A lost tail is recreated (directory and segment), `lost` is told (the journal
//   writes its record and carries forward what is still live), and the group is
//   written again into the new tail: nothing accepted goes into a file nobody can read.
import { promises as fsp, fsync as fsyncCb, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { RecordBatch, type JournalRecord, type NewRecord } from './record.js';
import { recover, type RecoveryReport } from './recover.js';
import { DEFAULT_SEGMENT_BYTES, listSegments, syncDir } from './segment.js';
import { JournalFullError, JournalWriteError, noSpace, openTail, sizesOf, tailLost, type Tail } from './tail-file.js';

export { JournalFullError, JournalWriteError } from './tail-file.js';

/** The journal's fsync policies; the config's `journal.fsync` takes its list from here. */
export const FSYNC_POLICIES = ['always', 'batch', 'interval', 'none'] as const;
export type FsyncPolicy = (typeof FSYNC_POLICIES)[number];

/** Why the writer asks for room: it rolled to a new segment, a write would pass the bound, or the disk is full. */
export type ReclaimWhy = 'roll' | 'full' | 'nospace';

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
  /** The segment files never hold more than this many bytes together (default: no bound). */
  maxBytes?: number;
  /** Groups stop this many bytes short of maxBytes: room kept for carrying live records forward. Default 0. */
  headroom?: number;
  /** Make room (remove segments); runs in the writer's turn and may call writeNow. `need`: bytes the waiting write needs. */
  reclaim?: (why: ReclaimWhy, need: number) => Promise<void>;
  /** The tail was lost and a new one opened; runs in the writer's turn, before the group is written again, and may call writeNow. */
  lost?: (reason: string) => Promise<void>;
}

export interface JournalWriterStats {
  appends: number;
  commits: number;
  writes: number;
  fsyncs: number;
  bytesWritten: number;
  segmentsOpened: number;
  failures: number;
  /** Times the tail was found lost and recreated. */
  losses: number;
}

const defaultFsync = promisify(fsyncCb);
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Records per group at most (an entry bigger than this commits whole, alone). A
 * flood's backlog then goes as several short commits instead of one long one, which
 * an urgent append would wait out: measured under bench --only=priority, the group
 * in flight was what an interactive request's p99 waited for.
 */
export const MAX_GROUP_RECORDS = 512;

/** A group's bytes up to this are written synchronously (see the header); larger writes (carried copies) go async. */
export const SYNC_WRITE_MAX = 256 << 10;

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
  /** When it was queued, on the monotonic clock (at is the records' wall-clock time, and may be a test's). */
  since: number;
  done: CommitCallback;
  /** Commits ahead of the non-urgent backlog (see the header). */
  urgent: boolean;
  /** Needs no fsync of its own (see the header). */
  lazy: boolean;
}

/** Work that must not interleave with commits (retention): run in the writer's turn. */
interface Task {
  task: () => Promise<void>;
}

type Entry = Pending | Task;
const isTask = (e: Entry): e is Task => 'task' in e;
const isLazy = (p: Pending): boolean => p.lazy;

export class JournalWriter {
  readonly dir: string;
  readonly policy: FsyncPolicy;
  /** What recovery found when this writer opened the journal. */
  readonly recovery: RecoveryReport;
  readonly stats: JournalWriterStats = { appends: 0, commits: 0, writes: 0, fsyncs: 0, bytesWritten: 0, segmentsOpened: 0, failures: 0, losses: 0 };

  private seg: Tail;
  private nextSeq: number;
  private readonly segmentBytes: number;
  private readonly fsyncFn: (fd: number) => Promise<void>;
  private readonly now: () => number;
  private readonly opts: JournalWriterOptions;
  /** Bytes of each segment file, by first seq: what the bound is checked against. */
  private readonly sizes = new Map<number, number>();
  private pending: Entry[] = [];
  /** When the oldest entry of the group being committed was queued (undefined: no commit in flight). */
  private committingSince: number | undefined;
  private tasks = 0;
  /** Urgent entries in `pending`. */
  private urgent = 0;
  private scheduled = false;
  private busy = false;
  /** Inside a commit or task: writeNow may write. */
  private inTurn = false;
  private rolled = false;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];
  private broken: Error | undefined;
  private closed = false;

  private constructor(dir: string, seg: Tail, nextSeq: number, recovery: RecoveryReport, sizes: Map<number, number>, opts: JournalWriterOptions) {
    this.dir = dir;
    this.seg = seg;
    this.nextSeq = nextSeq;
    this.recovery = recovery;
    this.sizes = sizes;
    this.opts = opts;
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
    let seg: Tail;
    if (tail) {
      seg = await openTail(dir, tail.firstSeq);
      if (seg.size === 0 && tail.firstSeq !== nextSeq) {
        // An empty tail whose name no longer matches the next seq (its records were torn off).
        await seg.handle.close();
        await fsp.unlink(tail.path);
        seg = await openTail(dir, nextSeq);
      }
    } else {
      seg = await openTail(dir, nextSeq);
    }
    if ((opts.fsync ?? 'batch') !== 'none') await syncDir(dir);
    return new JournalWriter(dir, seg, nextSeq, recovery, await sizesOf(dir), opts);
  }

  /** The seq of the last durable-or-written record (0 if none). */
  get lastSeq(): number { return this.nextSeq - 1; }
  /** The first seq of the segment being appended to. */
  get tailSegment(): number { return this.seg.info.firstSeq; }
  /** The tail segment's path and size. */
  get tail(): { path: string; size: number } { return { path: this.seg.info.path, size: this.seg.size }; }
  /** Bytes of segment files, as the writer counts them (resynced from the disk by `rescan`). */
  get diskBytes(): number {
    let n = 0;
    for (const b of this.sizes.values()) n += b;
    return n;
  }

  /** What groups may take the segment files to: the bound less the room kept for carrying forward. */
  private get limit(): number {
    return this.opts.maxBytes === undefined ? Infinity : this.opts.maxBytes - (this.opts.headroom ?? 0);
  }

  /** Retention removed this segment. */
  forget(firstSeq: number): void {
    if (firstSeq !== this.seg.info.firstSeq) this.sizes.delete(firstSeq);
  }

  /** Count the segment files again from the disk (after retention removed some). */
  async rescan(): Promise<void> {
    const fresh = await sizesOf(this.dir);
    this.sizes.clear();
    for (const [k, v] of fresh) this.sizes.set(k, v);
    // The tail's size is what the writer wrote, whatever a racing stat saw.
    this.sizes.set(this.seg.info.firstSeq, this.seg.size);
  }

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
  enqueue(recs: NewRecord[], done: CommitCallback, urgent = false, lazy = false): void {
    if (this.closed) return done(new Error('journal writer is closed'), undefined);
    if (this.broken) return done(this.broken, undefined);
    this.stats.appends += recs.length;
    if (urgent) this.urgent++;
    this.pending.push({ recs, at: this.now(), since: performance.now(), done, urgent, lazy });
    this.kick();
  }

  /** Run `task` in the writer's turn, between commits: it may call writeNow. */
  exclusive(task: () => Promise<void>): Promise<void> {
    if (this.closed) return Promise.reject(new Error('journal writer is closed'));
    return new Promise<void>((resolve, reject) => {
      this.tasks++;
      this.pending.push({ task: () => task().then(resolve, reject) });
      this.kick();
    });
  }

  /**
   * Write records now, in the writer's turn (from a task, `reclaim` or `lost`), past
   * the queue: retention's carried copies. Up to the bound itself, not the groups'
   * limit (that room is kept for this); `frees`: the bytes of the segment the copies
   * let retention remove. Throws when the write fails or would not fit.
   */
  async writeNow(recs: NewRecord[], frees = 0): Promise<Committed> {
    if (!this.inTurn) throw new Error('writeNow is for the writer\'s turn (a task, reclaim or lost)');
    if (this.broken) throw this.broken;
    const batch = new RecordBatch(Math.min(1 << 20, recs.length * 160 + 64));
    const firstSeq = this.nextSeq;
    const at = this.now();
    recs.forEach((rec, i) => batch.add(rec, firstSeq + i, rec.at ?? at));
    const bytes = batch.bytes();
    const max = this.opts.maxBytes ?? Infinity;
    // Past the bound only on the way down: a journal already over it (an earlier run's, a smaller max_size) may copy
    // records forward to remove a segment bigger than the copies.
    const over = this.diskBytes > max && bytes.length < frees;
    if (this.diskBytes + bytes.length > max && !over) throw new JournalFullError(bytes.length, this.diskBytes, max);
    this.stats.appends += recs.length;
    const segment = await this.put(bytes);
    this.nextSeq = firstSeq + recs.length;
    return { firstSeq, segment };
  }

  /**
   * How long the oldest append not yet committed has waited (ms, monotonic; 0 when none
   * waits): a write or fsync that does not return shows here. For the service
   * watchdog, which stops pinging systemd when the journal is wedged.
   */
  oldestUncommittedMs(now = performance.now()): number {
    let since = this.committingSince;
    const first = this.pending.find((e): e is Pending => !isTask(e));
    if (first && (since === undefined || first.since < since)) since = first.since;
    return since === undefined ? 0 : Math.max(0, now - since);
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
    await this.seg.handle.close().catch(() => {});
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
    this.inTurn = true;
    try {
      while (this.pending.length) {
        if (isTask(this.pending[0]!)) {
          const t = this.pending.shift() as Task;
          this.tasks--;
          await t.task();
          continue;
        }
        if (this.broken) {
          const dead = this.pending;
          this.pending = [];
          this.tasks = 0;
          this.urgent = 0;
          for (const p of dead) {
            if (isTask(p)) await p.task(); // tasks see the broken writer themselves
            else p.done(this.broken, undefined);
          }
          break;
        }
        await this.commit(this.nextGroup());
        // A turn of the event loop before the next group: what the last one's callbacks
        // wrote (the deliveries it let go, flushed on nextTick) leaves first instead of
        // after the next group's write (mostly the deliver record those deliveries
        // queued), and what arrives meanwhile joins that group.
        if (this.pending.length) await nextTurn();
      }
    } finally {
      this.inTurn = false;
      this.finishBusy();
    }
  }

  /** The next group, from the entries ahead of the first task: the urgent ones if any, else the oldest, up to the cap. */
  private nextGroup(): Pending[] {
    const end = this.tasks === 0 ? this.pending.length : this.pending.findIndex(isTask);
    const most = this.policy === 'always' ? 1 : MAX_GROUP_RECORDS;
    if (this.urgent > 0) {
      const group: Pending[] = [];
      const rest: Entry[] = [];
      let n = 0;
      let full = false;
      for (let i = 0; i < end; i++) {
        const p = this.pending[i] as Pending;
        // Once one does not fit, none after it is taken: urgent entries keep their order among themselves.
        full ||= p.urgent && group.length > 0 && n + p.recs.length > most;
        if (p.urgent && !full) {
          group.push(p);
          n += p.recs.length;
        } else rest.push(p);
      }
      if (group.length) {
        this.urgent -= group.length;
        this.pending = end === this.pending.length ? rest : rest.concat(this.pending.slice(end));
        return group;
      }
    }
    let take = 0;
    for (let n = 0; take < end && (take === 0 || n + (this.pending[take] as Pending).recs.length <= most); take++) n += (this.pending[take] as Pending).recs.length;
    if (take === this.pending.length) {
      const group = this.pending as Pending[];
      this.pending = [];
      return group;
    }
    return this.pending.splice(0, take) as Pending[];
  }

  private async doFsync(): Promise<void> {
    this.stats.fsyncs++;
    await this.fsyncFn(this.seg.fd);
  }

  private async roll(firstSeq: number): Promise<void> {
    if (this.policy !== 'none') await this.doFsync();
    // The new file first: if it cannot be created (a full disk), the old one stays the tail, still open.
    const next = await openTail(this.dir, firstSeq);
    const old = this.seg;
    this.seg = next;
    this.sizes.set(firstSeq, next.size);
    await old.handle.close().catch(() => {});
    this.stats.segmentsOpened++;
    this.rolled = true;
    if (this.policy !== 'none') await syncDir(this.dir);
  }

  /**
   * Roll if the bytes would take the tail past its size, then write them at its end and
   * fsync per policy. On failure the tail is cut back to where it was (or the writer
   * latches broken when even that fails) and the error is thrown.
   */
  private async put(bytes: Buffer, lazy = false): Promise<number> {
    if (this.seg.size > 0 && this.seg.size + bytes.length > this.segmentBytes) await this.roll(this.nextSeq);
    const start = this.seg.size;
    const sync = bytes.length <= SYNC_WRITE_MAX;
    try {
      let off = 0;
      while (off < bytes.length) {
        off += sync
          ? writeSync(this.seg.fd, bytes, off, bytes.length - off, start + off)
          : (await this.seg.handle.write(bytes, off, bytes.length - off, start + off)).bytesWritten;
      }
      this.stats.writes++;
      if (this.policy === 'always' || (this.policy === 'batch' && !lazy)) {
        await this.doFsync();
        this.dirty = false;
      }
    } catch (err) {
      // Put the file back to its last good end so no partial group survives.
      try { await this.seg.handle.truncate(start); } catch (terr) {
        const e = new JournalWriteError(err, `; truncating ${this.seg.info.path} back to ${start} also failed: ${(terr as Error).message}`);
        // A file we could not cut back is in an unknown state: stop writing to it.
        this.broken = e;
        throw e;
      }
      throw err;
    }
    this.seg.size = start + bytes.length;
    this.sizes.set(this.seg.info.firstSeq, this.seg.size);
    this.stats.bytesWritten += bytes.length;
    if (this.policy === 'interval' || this.policy === 'none' || (this.policy === 'batch' && lazy)) this.dirty = true;
    return this.seg.info.firstSeq;
  }

  /** Encode the entries at the next seqs; an entry that cannot be encoded is refused alone. */
  private encode(group: Pending[]): { bytes: Buffer; ok: Array<{ p: Pending; seq: number }>; end: number } {
    // Sized by records, not entries: the router stages a whole read's sends as one entry.
    let records = 0;
    for (const p of group) records += p.recs.length;
    const batch = new RecordBatch(Math.min(1 << 20, records * 160 + 64));
    const ok: Array<{ p: Pending; seq: number }> = [];
    let seq = this.nextSeq;
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
    return { bytes: batch.bytes(), ok, end: seq };
  }

  private async commit(group: Pending[]): Promise<void> {
    this.committingSince = group.reduce((min, p) => Math.min(min, p.since), Infinity);
    try {
      await this.commitGroup(group);
    } finally {
      this.committingSince = undefined;
    }
  }

  private async commitGroup(group: Pending[]): Promise<void> {
    this.stats.commits++;
    let reclaimed = false;
    let relinked = 0;
    for (;;) {
      // Encoded again after a reclaim or a relink: records written meanwhile took the next seqs.
      const { bytes, ok, end } = this.encode(group);
      if (ok.length === 0) return;
      group = ok.map((o) => o.p);
      if (this.diskBytes + bytes.length > this.limit) {
        if (!reclaimed && this.opts.reclaim) {
          reclaimed = true;
          await this.askRoom('full', bytes.length);
          continue;
        }
        return this.fail(ok, new JournalFullError(bytes.length, this.diskBytes, this.limit));
      }
      const tail = this.seg;
      let failed: unknown;
      try { await this.put(bytes, group.every(isLazy)); } catch (err) { failed = err; }
      // After the write, so that a loss during it counts too: see the header.
      const before = tailLost(tail);
      // After a roll the group went to a new tail: that is the file it must be in.
      const landed = tail === this.seg ? before : tailLost(this.seg);
      if (landed !== undefined && !this.broken) {
        // Written into a file nobody can read (the books are redone by relink): write it again in a new tail.
        if (relinked++ < 2) {
          try { await this.relink(landed); } catch (err) { return this.fail(ok, err); }
          continue;
        }
        return this.fail(ok, new Error(`journal lost again while recreating it: ${landed}`));
      }
      if (failed !== undefined) {
        if (!this.broken && noSpace(failed) && !reclaimed && this.opts.reclaim) {
          reclaimed = true;
          await this.askRoom('nospace', bytes.length);
          continue;
        }
        return this.fail(ok, failed);
      }
      this.nextSeq = end;
      const segment = this.seg.info.firstSeq;
      for (const { p, seq: s } of ok) p.done(undefined, { firstSeq: s, segment });
      if (before !== undefined && tail !== this.seg) {
        // The old tail was lost, and this group rolled into a sound new one: only what the old files held must be carried.
        this.stats.losses++;
        await this.rescan();
        await this.opts.lost?.(before);
      }
      if (this.rolled) {
        this.rolled = false;
        await this.askRoom('roll', 0);
      }
      return;
    }
  }

  private async askRoom(why: ReclaimWhy, need: number): Promise<void> {
    try { await this.opts.reclaim?.(why, need); } catch { /* the journal reports its own failures; the write decides */ }
  }

  /** The tail is gone: a new directory (if need be) and a new tail at the next seq, then the journal is told. */
  private async relink(why: string): Promise<void> {
    this.stats.losses++;
    await this.seg.handle.close().catch(() => {});
    try {
      await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
      this.seg = await openTail(this.dir, this.nextSeq);
      if (this.policy !== 'none') await syncDir(this.dir);
      await this.rescan();
    } catch (err) {
      // No tail to write to: every write fails from now on, and says why.
      this.broken = new JournalWriteError(err, `; the journal was lost (${why}) and could not be recreated in ${this.dir}`);
      throw this.broken;
    }
    this.stats.segmentsOpened++;
    await this.opts.lost?.(why);
  }

  private fail(ok: Array<{ p: Pending }>, cause: unknown): void {
    this.stats.failures++;
    const err = cause instanceof JournalWriteError || cause instanceof JournalFullError ? cause : new JournalWriteError(cause);
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

