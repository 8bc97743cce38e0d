// journal.max_size is a bound, and a full disk is survived: retention runs on a
// segment roll, on a write that would pass the bound and on ENOSPC (then the write
// is tried once more), and at start. A flood never takes the segment files past
// max_size, a journal that filled its disk frees room and goes on without a
// restart, and after one; nothing accepted is lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listSegments } from '../logs/journal/segment.js';
import type { StatusResult } from '../supervisor/control/protocol.js';
import { fixture, tempDir, until } from './helpers/harness.js';
import { startDaemon, stop, type Daemon } from './helpers/daemon.js';

function workDir(): string {
  const dir = tempDir('outheis-bound-');
  chmodSync(dir, 0o755); // agents' own uids reach their data through it
  mkdirSync(join(dir, 'data'));
  return dir;
}

const agents = (dir: string, total: number): string[] => [
  'agents:',
  `  consumer: { run: ${fixture('consumer.js')}, args: [${join(dir, 'data/handled.log')}, "0"], owns: [data], unveil: { data: rw } }`,
  `  flood: { run: ${fixture('send-flood.js')}, args: [consumer, "${total}", "200"], pledge: ["send:consumer"], after: [consumer], restart: transient }`,
];

function handled(dir: string): Set<number> {
  const file = join(dir, 'data/handled.log');
  if (!existsSync(file)) return new Set();
  return new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => Number(l.split(' ')[1])));
}

/** Bytes of segment files in the journal directory now (a file removed between listing and stat counts 0). */
function segmentBytes(jdir: string): number {
  let n = 0;
  for (const f of readdirSync(jdir)) {
    if (!f.endsWith('.seg')) continue;
    try { n += statSync(join(jdir, f)).size; } catch { /* removed meanwhile */ }
  }
  return n;
}

const journalOf = (d: Daemon) => d.cliJson<StatusResult>(['status']).supervisor.journal!;

/** Sample the journal's size on disk every millisecond or so until `done`; the largest sample. */
async function sampleWhile(jdir: string, done: () => boolean): Promise<{ max: number; samples: number }> {
  let max = 0, samples = 0;
  while (!done()) {
    max = Math.max(max, segmentBytes(jdir));
    samples++;
    await new Promise((r) => setTimeout(r, 1));
  }
  return { max, samples };
}

test('max_size 128KiB with 64KiB segments: a flood never takes the journal past it, nothing accepted is lost', { timeout: 180_000 }, async () => {
  const dir = workDir();
  const total = 20_000;
  const d = await startDaemon(['journal: { segment_size: 64KiB, max_size: 128KiB }', ...agents(dir, total)], { dir, waitReady: ['consumer'] });
  const jdir = join(d.stateDir, 'journal');
  try {
    const flooded = () => new RegExp(`flood done ${total}`).test(d.out());
    const during = await sampleWhile(jdir, flooded);
    await until('every message handled', () => (handled(dir).size === total ? true : undefined), 60_000);
    const after = segmentBytes(jdir);
    assert.ok(during.samples > 50, `sampled during the flood (${during.samples} samples)`);
    assert.ok(during.max <= 128 * 1024, `on disk during the flood: at most ${during.max} bytes against 131072`);
    assert.ok(after <= 128 * 1024, `after: ${after} bytes`);
    const j = journalOf(d);
    // Far more was written than fits (an accept record alone is over 60 bytes): retention made the room, on its own, while the flood ran.
    assert.ok(j.lastSeq > total, `${j.lastSeq} records written`);
    assert.ok((await listSegments(jdir))[0]!.firstSeq > 1, 'the oldest segments are gone');
    assert.equal(j.failures, 0, `not failing now: ${JSON.stringify(j)}`);
    assert.doesNotMatch(d.cli(['status']).stdout, /JOURNAL FAILING/);
    assert.deepEqual([...handled(dir)].sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i));
  } finally {
    await stop(d);
  }
});

test('a journal that fills its tmpfs: ENOSPC makes retention free settled segments, the supervisor recovers without a restart, and after one', { timeout: 180_000 }, async () => {
  assert.equal(process.getuid!(), 0, 'this test mounts a small tmpfs for the journal: it needs root (CI runs as root)');
  const dir = workDir();
  const jdir = join(dir, '.outheis/journal');
  mkdirSync(jdir, { recursive: true, mode: 0o700 });
  chmodSync(join(dir, '.outheis'), 0o700);
  // Mounted here rather than in the supervisor's own namespace: it must outlive the first supervisor.
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k,mode=0700', 'tmpfs', jdir]);
  const total = 20_000;
  // max_size and retain far away: only the disk is short.
  const lines = ['journal: { segment_size: 64KiB }', ...agents(dir, total)];
  let d: Daemon | undefined;
  try {
    d = await startDaemon(lines, { dir, waitReady: ['consumer'] });
    const first = d;
    await until('the flood done', () => (new RegExp(`flood done ${total}`).test(first.out()) ? true : undefined), 120_000);
    await until('every message handled', () => (handled(dir).size === total ? true : undefined), 60_000);
    await d.printed(/disk full, removed settled segments early/);
    const j = journalOf(d);
    assert.ok(j.lastSeq > total && (await listSegments(jdir))[0]!.firstSeq > 1, `more was written than the disk holds, and the oldest segments went (${j.lastSeq} records)`);
    assert.equal(j.failures, 0, `not failing now: ${JSON.stringify(j)}`);
    assert.doesNotMatch(d.cli(['status']).stdout, /JOURNAL FAILING/);

    // Crash, and fill the disk to the last byte: the next start's writes meet ENOSPC.
    await stop(d, 'SIGKILL');
    try {
      writeFileSync(join(jdir, 'filler'), Buffer.alloc(1 << 20));
    } catch (err) {
      assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
    }
    d = await startDaemon(lines.slice(0, 3), { dir, waitReady: ['consumer'] });
    const again = d;
    // Retention took the segment with the crashed run's start record: the crash is still recognised (no stop record).
    await again.printed(/"previousRun":"did not stop cleanly"/);
    // Larger than what is left of the tail's last page, so that it needs room the disk does not have.
    const r = again.cli(['send', 'consumer', 'item', JSON.stringify({ n: 99999, pad: 'x'.repeat(16 * 1024) })]);
    assert.equal(r.code, 0, `accepted after the restart: ${r.stderr}`);
    await again.printed(/disk full, removed settled segments early/);
    await until('handled after the restart', () => (handled(dir).has(99999) ? true : undefined), 30_000);
    assert.equal(journalOf(again).failures, 0);
    assert.doesNotMatch(again.cli(['status']).stdout, /JOURNAL FAILING/);
  } finally {
    if (d) await stop(d);
    execFileSync('umount', ['-l', jdir]);
  }
});
