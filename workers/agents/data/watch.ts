// Keeping the index current while a person edits the vault in an editor. One
// recursive fs.watch over the vault; what it reports is gathered for a short
// quiet spell (an editor's save is several events: a temp file, a rename over the
// note, a chmod) and then each path is refreshed once. A rename or a delete is a
// refresh too: what is gone is dropped. When the watcher fails (inotify limits, the
// vault moved), it is replaced and the whole vault rescanned, since events were
// lost; a slow periodic rescan catches what no watcher reports (a network mount).
import { watch, type FSWatcher } from 'node:fs';

export interface WatchOptions {
  /** Quiet time before a batch is refreshed. */
  debounceMs?: number;
  /** At most this long between the first event of a batch and its refresh, however busy the vault. */
  maxDelayMs?: number;
  /** Whole-vault rescan period; 0 for none. */
  rescanMs?: number;
  /** A watcher error, for the agent's log. */
  onError?: (err: Error) => void;
}

export class VaultWatcher {
  private watcher: FSWatcher | undefined;
  private pending = new Set<string>();
  private all = false;
  private quiet: NodeJS.Timeout | undefined;
  private first = 0;
  private rescanTimer: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  /** `refresh(rel)` re-reads a path relative to the vault ('' for all of it). */
  constructor(private readonly root: string, private readonly refresh: (rel: string) => void, private readonly opts: WatchOptions = {}) {}

  start(): this {
    this.open();
    const every = this.opts.rescanMs ?? 0;
    if (every > 0) {
      this.rescanTimer = setInterval(() => this.queue(undefined), every);
      this.rescanTimer.unref();
    }
    return this;
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    for (const t of [this.quiet, this.retry, this.rescanTimer]) if (t) clearTimeout(t);
  }

  private open(): void {
    try {
      this.watcher = watch(this.root, { recursive: true, persistent: false }, (_event, name) => this.queue(name ?? undefined));
      this.watcher.on('error', (err) => this.failed(err));
    } catch (err) {
      this.failed(err as Error);
    }
  }

  /** Events were lost: a new watcher, after a pause (a vault being moved back), and a full rescan. */
  private failed(err: Error): void {
    this.opts.onError?.(err);
    this.watcher?.close();
    this.watcher = undefined;
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (this.closed) return;
      this.open();
      this.queue(undefined);
    }, 1000);
  }

  /** A changed path (relative to the vault), or undefined when the watcher could not say which: everything. */
  private queue(name: string | Buffer | undefined): void {
    if (name === undefined) this.all = true;
    else this.pending.add(String(name));
    const now = Date.now();
    if (!this.quiet) this.first = now;
    if (this.quiet) clearTimeout(this.quiet);
    const wait = Math.min(this.opts.debounceMs ?? 100, Math.max(0, this.first + (this.opts.maxDelayMs ?? 1000) - now));
    this.quiet = setTimeout(() => this.flush(), wait);
  }

  private flush(): void {
    this.quiet = undefined;
    const paths = this.all ? [''] : [...this.pending];
    this.pending = new Set();
    this.all = false;
    for (const rel of paths) {
      try {
        this.refresh(rel);
      } catch (err) {
        this.opts.onError?.(err as Error);
      }
    }
  }
}
