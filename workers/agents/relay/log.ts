// The conversation log: one JSON object a line (time, question, answer, sources,
// mode), one file a day, in the directory the relay owns (`owns:` and `unveil: rw`).
// Appended, never rewritten. The pattern agent reads it with a read-only unveil.
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface Exchange { time: string; question: string; answer: string; sources: string[]; mode: 'model' | 'grammar' }

export async function appendExchange(dir: string, day: string, e: Exchange): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${day}.jsonl`);
  // One write per line (O_APPEND): a reader sees whole lines, or a torn last one it skips.
  // Not world-readable. The group bits are what a POSIX ACL's mask becomes for a new
  // file: 0640 lets the default ACL the supervisor sets for pattern's `unveil: r`
  // (policies/domains.ts) give pattern's uid read access, and nobody else.
  await appendFile(file, `${JSON.stringify(e)}\n`, { mode: 0o640 });
  return file;
}
