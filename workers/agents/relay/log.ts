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
  // Readable by others: pattern runs under a uid of its own and its `unveil: r` of this
  // directory grants no ACL of its own; the sandbox's mount namespace, not the mode,
  // keeps agents without that unveil from seeing it.
  await appendFile(file, `${JSON.stringify(e)}\n`, { mode: 0o644 });
  return file;
}
