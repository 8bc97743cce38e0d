// A schedule's last fired slot outlives the journal segment that proved it: retention
// carries it forward as a `fired` mark (and a firing still owed as an accept copy
// naming its schedule and slot), so after a restart no slot fires twice and
// catch_up still sees what was missed. Real supervisors, counted from the journal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRecords } from '../logs/journal/recover.js';
import type { AnyRecord } from '../logs/journal/schema.js';
import type { StateView } from '../logs/journal/replay.js';
import { startDaemon, stop, type Daemon } from './helpers/daemon.js';
import { fixture, until } from './helpers/harness.js';

type Accept = Extract<AnyRecord, { type: 'accept' }>;
type Fired = Extract<AnyRecord, { type: 'fired' }>;

async function journalOf(d: Daemon): Promise<AnyRecord[]> {
  const out: AnyRecord[] = [];
  for await (const r of readRecords(join(d.stateDir, 'journal'))) out.push(r as unknown as AnyRecord);
  return out;
}

const firings = (recs: AnyRecord[]): Accept[] => recs.filter((r): r is Accept => r.type === 'accept' && r.from === 'scheduler' && r.carried === undefined);
const marks = (recs: AnyRecord[]): Fired[] => recs.filter((r): r is Fired => r.type === 'fired');

function journalUntil(d: Daemon, what: string, pred: (recs: AnyRecord[]) => boolean, timeoutMs = 15000): Promise<AnyRecord[]> {
  return until(what, async () => {
    const recs = await journalOf(d);
    return pred(recs) ? recs : undefined;
  }, timeoutMs, 100);
}

/** `replay --live` and `replay --until` the seq it was taken at: the same schedules. */
function assertLiveIsReplay(d: Daemon): StateView {
  const live = d.cliJson<StateView>(['replay', '--live']);
  const past = d.cliJson<StateView>(['replay', '--until', String(live.seq)]);
  assert.deepEqual(live.schedules, past.schedules, 'replay --live shows the schedules replay does');
  return live;
}

const agent = `  a: { run: ${fixture('echo.js')}, heartbeat: 0 }`;
const tick = '  tick: { every: 1s, to: a, kind: record, catch_up: true }';

test('retention removes the segment holding a schedule\'s last fire: the slot is carried forward, and after a restart it does not fire again; catch_up still fires once', async (t) => {
  const journal = 'journal: { segment_size: 64KiB, max_size: 256KiB, retain: 1s, fsync: always }';
  const withTick = [journal, 'agents:', agent, 'schedules:', tick];
  const d1 = await startDaemon(withTick, { waitReady: ['a'] });
  let last: Accept;
  try {
    const recs = await journalUntil(d1, 'a firing acked', (r) => firings(r).some((f) => r.some((x) => x.type === 'ack' && x.ids.includes(f.id))));
    // The schedule goes quiet (removed by a reload: its last slot is still the journal's), as one whose period is longer than retain would.
    writeFileSync(d1.file, [journal, 'agents:', agent].join('\n') + '\n');
    assert.equal(d1.cli(['reload']).code, 0);
    // Records commit in order: once the reload's is in, so is every firing before it, and none comes after.
    last = firings(await journalUntil(d1, 'the reload journaled', (r) => r.some((x) => x.type === 'reload'))).at(-1)!;
    assert.ok(firings(recs).length >= 1);
    // Two large sends roll the first segment over; once older than retain, retention removes it.
    for (const n of [1, 2]) assert.equal(d1.cli(['send', 'a', 'record', JSON.stringify({ n, pad: 'x'.repeat(40_000) })]).code, 0);
    const first = join(d1.stateDir, 'journal', '0000000000000001.seg');
    await until('the segment with the firing removed', () => (existsSync(first) ? undefined : true), 20000, 100);
    const after = await journalOf(d1);
    assert.equal(after.some((r) => r.type === 'accept' && r.id === last.id), false, 'the firing\'s accept record went with its segment');
    const mark = marks(after).find((m) => m.schedule === 'tick');
    assert.ok(mark, 'its slot was carried forward as a fired mark');
    assert.deepEqual([mark.slot, mark.id, mark.to, mark.firedAt, mark.carried], [last.slot, last.id, 'a', last.at, 1]);
    // replay (from the files) and replay --live (the running supervisor) both still know it.
    const live = assertLiveIsReplay(d1);
    assert.deepEqual(live.schedules?.tick, { slot: last.slot!, at: last.at, id: last.id, to: 'a', owed: false });
    assert.match(d1.cli(['journal']).stdout, /fired\s+schedule tick last fired slot .* \(carried from segment 1\)/);
  } finally {
    await stop(d1, 'SIGKILL');
  }
  // Let a slot pass while down, then restart with the schedule back.
  await until('a slot to pass while down', () => (Date.now() > last.slot! + 2000 ? true : undefined), 10000);
  const d2 = await startDaemon(withTick, { dir: d1.dir, waitReady: ['a'] });
  try {
    const startSeq = (await journalOf(d2)).filter((r) => r.type === 'start').at(-1)!.seq;
    const recs = await journalUntil(d2, 'two firings after the restart', (r) => firings(r).filter((f) => f.seq > startSeq).length >= 2);
    const run2 = firings(recs).filter((f) => f.seq > startSeq);
    for (const f of run2) assert.ok(f.slot! > last.slot!, `slot ${f.slot} is after the last one fired before the segment went (${last.slot})`);
    assert.equal(new Set(run2.map((f) => f.slot)).size, run2.length, 'no slot twice');
    // catch_up knew the last fire: one firing for a slot missed while down (before the restart's own start record).
    assert.equal((d2.out().match(/catching up once/g) ?? []).length, 1, d2.out());
    assert.ok(run2[0]!.slot! <= run2[0]!.at, 'the first firing is the catch-up of a past slot');
    t.diagnostic(`last before: ${last.slot}, after restart: ${run2.map((f) => f.slot).join(', ')}`);
  } finally {
    await stop(d2);
  }
});

test('a firing still owed when the journal is lost is carried with its schedule and slot; after a SIGKILL it is redelivered before the schedule fires again', async () => {
  const lines = ['journal: { fsync: always }', 'agents:', agent, 'schedules:', tick];
  const d1 = await startDaemon(lines, { waitReady: ['a'] });
  const jdir = join(d1.stateDir, 'journal');
  let owed: Accept;
  try {
    assert.equal(d1.cli(['stop', 'a']).code, 0);
    // A firing to the stopped agent stays owed; later slots are skipped, not queued. The
    // owed one is the first fired after the stop, or one the stop caught before its ack
    // (then no later slot fires: no pile-up), whichever the timing gave.
    const unacked = (recs: AnyRecord[]) => firings(recs).filter((f) => !recs.some((r) => r.type === 'ack' && r.ids.includes(f.id))).at(-1);
    owed = unacked(await journalUntil(d1, 'a firing owed while a is stopped', (r) => unacked(r) !== undefined))!;
    rmSync(jdir, { recursive: true, force: true });
    assert.equal(d1.cli(['send', 'a', 'record', '{"n":1}']).code, 0);
    await d1.printed(/JOURNAL LOST under the running supervisor/);
    const after = await journalOf(d1);
    const copy = after.find((r): r is Accept => r.type === 'accept' && r.id === owed.id);
    assert.ok(copy, 'the owed firing was carried into the new journal');
    assert.deepEqual([copy.from, copy.schedule, copy.slot], ['scheduler', 'tick', owed.slot], 'the copy says which schedule and slot it is');
    assert.deepEqual(marks(after).map((m) => [m.schedule, m.slot, m.id]), [['tick', owed.slot, owed.id]], 'and the mark of the last slot');
    const live = assertLiveIsReplay(d1);
    assert.equal(live.schedules?.tick?.owed, true);
  } finally {
    await stop(d1, 'SIGKILL');
  }
  const d2 = await startDaemon(lines, { dir: d1.dir, waitReady: ['a'] });
  try {
    const startSeq = (await journalOf(d2)).filter((r) => r.type === 'start').at(-1)!.seq;
    const recs = await journalUntil(d2, 'a new firing after the restart', (r) => firings(r).some((f) => f.seq > startSeq));
    const next = firings(recs).find((f) => f.seq > startSeq)!;
    assert.ok(next.slot! > owed.slot!, 'no slot twice');
    const ack = recs.find((r) => r.type === 'ack' && r.ids.includes(owed.id));
    assert.ok(ack && ack.seq < next.seq, 'the recovered firing was handled before the next one (no pile-up across the loss and the crash)');
  } finally {
    await stop(d2);
  }
});
