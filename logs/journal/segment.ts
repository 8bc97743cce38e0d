// Journal segment files: state_dir/journal/<first seq, 16 hex digits>.seg.
// A segment holds records with seq ≥ its first seq and < the next segment's.
import { promises as fsp, constants as C } from 'node:fs';
import { join } from 'node:path';
import { openSafe, READ_WRITE } from '../safe-open.js';

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
export const SEGMENT_SUFFIX = '.seg';
export const DAMAGED_DIR = 'damaged';
const NAME_RE = /^([0-9a-f]{16})\.seg$/;

export interface SegmentInfo {
  name: string;
  path: string;
  firstSeq: number;
}


export function segmentName(firstSeq: number): string {
  if (!Number.isSafeInteger(firstSeq) || firstSeq < 0) throw new RangeError(`bad segment seq ${firstSeq}`);
  return firstSeq.toString(16).padStart(16, '0') + SEGMENT_SUFFIX;
}

export function parseSegmentName(name: string): number | undefined {
  const m = NAME_RE.exec(name);
  return m ? Number.parseInt(m[1]!, 16) : undefined;
}

/** The directory's segments, oldest first. A missing directory has none. */
export async function listSegments(dir: string): Promise<SegmentInfo[]> {
  let names: string[];
  try { names = await fsp.readdir(dir); } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: SegmentInfo[] = [];
  for (const name of names) {
    const firstSeq = parseSegmentName(name);
    if (firstSeq !== undefined) out.push({ name, path: join(dir, name), firstSeq });
  }
  return out.sort((a, b) => a.firstSeq - b.firstSeq);
}

export interface OpenSegment {
  info: SegmentInfo;
  fd: number;
  handle: fsp.FileHandle;
  /** Bytes in the file: where the next write goes. */
  size: number;
}

/** Open (creating if needed) a segment for writing at its end. Positional writes, no O_APPEND. */
export async function openSegment(dir: string, firstSeq: number): Promise<OpenSegment> {
  const name = segmentName(firstSeq);
  const path = join(dir, name);
  // Never through a link planted at the name; the directory and the opened fd checked (logs/safe-open.ts).
  const handle = await openSafe(path, READ_WRITE, 0o600, 0o755);
  try {
    const st = await handle.stat();
    return { info: { name, path, firstSeq }, fd: handle.fd, handle, size: st.isFile() ? st.size : 0 };
  } catch (err) {
    await handle.close().catch(() => {});
    throw err;
  }
}

/** fsync a directory so a created/removed/renamed entry is durable. */
export async function syncDir(dir: string): Promise<void> {
  const h = await fsp.open(dir, C.O_RDONLY | C.O_DIRECTORY);
  try { await h.sync(); } catch { /* some filesystems refuse directory fsync */ } finally { await h.close(); }
}
