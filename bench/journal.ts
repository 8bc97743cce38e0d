// The journal's storage layer alone: append records/s per fsync policy against
// `none` (no fsync at all) as the baseline, and the recovery scan of a large
// journal against just reading its bytes. Routing through the journal is in core.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { recover } from '../logs/journal/recover.js';
import { listSegments } from '../logs/journal/segment.js';
import { JournalWriter, type FsyncPolicy } from '../logs/journal/writer.js';
import { fmt, type Row } from './lib.js';

const PAD = 'x'.repeat(40); // ~100-byte records, the size of an accepted message's header record

async function appendRate(dir: string, policy: FsyncPolicy, n: number): Promise<number> {
  const w = await JournalWriter.open(dir, { fsync: policy });
  const t0 = performance.now();
  const pending: Promise<number>[] = [];
  for (let i = 0; i < n; i++) {
    pending.push(w.append({ type: 'accept', agent: 'bench', i, pad: PAD }));
    // Producers that keep appending in bursts, as a busy router would.
    if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
  }
  await Promise.all(pending);
  const rate = n / ((performance.now() - t0) / 1000);
  await w.close();
  return rate;
}

/** Seconds to read every segment's bytes and do nothing with them: the floor under a recovery scan. */
async function readOnly(dir: string): Promise<number> {
  const t0 = performance.now();
  for (const s of await listSegments(dir)) await readFile(s.path);
  return (performance.now() - t0) / 1000;
}

export async function journalRates(n: number, recoveryRecords: number): Promise<Row[]> {
  const root = mkdtempSync(join(tmpdir(), 'outheis-bench-journal-'));
  try {
    const none = await appendRate(join(root, 'none'), 'none', n);
    const rows: Row[] = [];
    // `always` is an fsync per record: a thousand of them say what it costs.
    for (const [policy, count] of [['batch', n], ['interval', n], ['always', 1000]] as [FsyncPolicy, number][]) {
      const rate = await appendRate(join(root, policy), policy, count);
      rows.push({ metric: `journal append, fsync ${policy} (${count.toLocaleString('en-US')} records)`, ours: fmt.rate(rate), base: `${fmt.rate(none)} no fsync`, ratio: fmt.x(rate / none), target: policy === 'batch' ? '>= 300,000/s' : 'reported', pass: policy === 'batch' ? rate >= 300_000 : undefined });
    }
    const big = join(root, 'recovery');
    await appendRate(big, 'none', recoveryRecords);
    const floor = recoveryRecords / (await readOnly(big));
    const t0 = performance.now();
    const rep = await recover(big);
    const scan = rep.records / ((performance.now() - t0) / 1000);
    rows.push({ metric: `journal recovery scan (${rep.records.toLocaleString('en-US')} records, CRC + decode)`, ours: fmt.rate(scan), base: `${fmt.rate(floor)} read only`, ratio: fmt.x(scan / floor), target: '>= 1,000,000/s', pass: scan >= 1_000_000 });
    return rows;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
