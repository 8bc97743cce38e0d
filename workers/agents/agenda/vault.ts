// The vault as the agents other than `data` see it: four requests to `data`, whose
// replies are checked against the contract's schemas. None of these agents has the
// vault unveiled; this is their only way to it. Shared by agenda, pattern and relay.
import { agentCodeOf, listRes, readRes, searchRes, writeRes, type ListRes, type ReadRes, type SearchRes, type WriteRes } from '../messages.js';

export type Request = (to: string, kind: string, body?: unknown, opts?: { timeout?: number }) => Promise<unknown>;

export interface Vault {
  list(under?: string): Promise<ListRes['notes']>;
  /** undefined when there is no such note (ENOTFOUND). */
  read(path: string): Promise<ReadRes | undefined>;
  search(q: string, limit?: number): Promise<SearchRes['hits']>;
  write(path: string, text: string): Promise<WriteRes>;
}

export function dataVault(request: Request, data = 'data', timeout = 15_000): Vault {
  const ask = (kind: string, body: unknown) => request(data, kind, body, { timeout });
  return {
    list: async (under) => listRes.parse(await ask('list', under === undefined ? {} : { under })).notes,
    async read(path) {
      try {
        return readRes.parse(await ask('read', { path }));
      } catch (err) {
        if (agentCodeOf(err) === 'ENOTFOUND') return undefined;
        throw err;
      }
    },
    search: async (q, limit = 10) => searchRes.parse(await ask('search', { q, limit })).hits,
    write: async (path, text) => writeRes.parse(await ask('write', { path, text })),
  };
}

export interface Note { path: string; title: string; text: string; tags: string[]; mtime: number }

/**
 * Every note's text, read through `data` and kept between calls: a note is read
 * again only when `list` shows a new mtime, so a scan of an unchanged vault costs
 * one `list`. Reads run a few at a time, not one request per note at once.
 */
export class NoteCache {
  private notes = new Map<string, Note>();

  constructor(private readonly vault: Vault, private readonly skip: (path: string) => boolean = () => false) {}

  async all(): Promise<Note[]> {
    const listed = (await this.vault.list()).filter((n) => !this.skip(n.path));
    const fresh = new Map<string, Note>();
    const stale = listed.filter((n) => {
      const have = this.notes.get(n.path);
      if (have && have.mtime === n.mtime) fresh.set(n.path, have);
      return !(have && have.mtime === n.mtime);
    });
    await inBatches(stale, 8, async (n) => {
      const r = await this.vault.read(n.path);
      if (r) fresh.set(n.path, { path: r.path, title: r.title, text: r.text, tags: r.tags, mtime: n.mtime });
    });
    this.notes = fresh;
    return [...fresh.values()].sort((a, b) => a.path.localeCompare(b.path));
  }
}

async function inBatches<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

/** mtime in milliseconds, whether `data` reports milliseconds or seconds. */
export const mtimeMs = (mtime: number): number => (mtime < 1e11 ? mtime * 1000 : mtime);
