// Schedules with real supervisors (`outheis start`), counted from the journal: a
// firing is an accept record from `scheduler` naming its schedule and slot, so the
// journal itself proves what fired, once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readRecords } from '../logs/journal/recover.js';
import type { AnyRecord as JournalRecord } from '../logs/journal/schema.js';
import type { StateView } from '../logs/journal/replay.js';
import type { StatusResult } from '../supervisor/control/protocol.js';
import { startDaemon, stop, type Daemon } from './helpers/daemon.js';
import { fixture, until } from './helpers/harness.js';

type Accept = Extract<JournalRecord, { type: 'accept' }>;

async function journalOf(d: Daemon): Promise<JournalRecord[]> {
  const out: JournalRecord[] = [];
  for await (const r of readRecords(join(d.stateDir, 'journal'))) out.push(r as unknown as JournalRecord);
  return out;
}

const firings = (recs: JournalRecord[], schedule?: string): Accept[] =>
  recs.filter((r): r is Accept => r.type === 'accept' && r.from === 'scheduler' && (schedule === undefined || r.schedule === schedule));

/** Poll the journal until `pred` holds of it. */
function journalUntil(d: Daemon, what: string, pred: (recs: JournalRecord[]) => boolean, timeoutMs = 15000): Promise<JournalRecord[]> {
  return until(what, async () => {
    const recs = await journalOf(d);
    return pred(recs) ? recs : undefined;
  }, timeoutMs, 100);
}

const agent = (extra = '') => `  a: { run: ${fixture('echo.js')}, heartbeat: 0${extra} }`;

function assertNoSlotTwice(recs: JournalRecord[]): void {
  const seen = new Set<string>();
  for (const f of firings(recs)) {
    const key = `${f.schedule}@${f.slot}`;
    assert.ok(!seen.has(key), `slot fired twice: ${key}`);
    seen.add(key);
  }
}

test('every: 1s fires through the router as `scheduler`; journal, status and replay show it', async (t) => {
  const d = await startDaemon(['agents:', agent(), 'schedules:', '  tick: { every: 1s, to: a, kind: record, body: { n: 1 } }'], { waitReady: ['a'] });
  try {
    const recs = await journalUntil(d, '3 firings of tick', (r) => firings(r, 'tick').length >= 3);
    const fs = firings(recs, 'tick');
    for (const f of fs) {
      assert.equal(f.to, 'a');
      assert.equal(f.kind, 'record');
      assert.equal(f.slot! % 1000, 0, 'every-slots are whole multiples of the interval');
    }
    for (let i = 1; i < fs.length; i++) assert.ok(fs[i]!.slot! > fs[i - 1]!.slot!, 'slots strictly increase');
    t.diagnostic(`fire lag after slot (ms): ${fs.map((f) => f.at - f.slot!).join(', ')}`);
    // Handled like any message: delivered and acked.
    await journalUntil(d, 'the first firing acked', (r) => r.some((x) => x.type === 'ack' && x.ids.includes(fs[0]!.id)));

    const s = d.cliJson<StatusResult>(['status']);
    const row = s.schedules?.find((x) => x.name === 'tick');
    assert.ok(row, 'status --json lists the schedule');
    assert.equal(row.to, 'a');
    assert.equal(row.spec, 'every 1s');
    assert.ok(row.last && row.next !== null && row.next > row.last.slot, 'next fire is after the last');
    const text = d.cli(['status']).stdout;
    assert.match(text, /SCHEDULE[\s\S]*tick\s+a record\s+every 1s/);

    const journal = d.cli(['journal', '--json']).stdout;
    assert.match(journal, /"from":"scheduler"[^\n]*"schedule":"tick"|"schedule":"tick"[^\n]*"from":"scheduler"/);

    // Replay at the second firing's seq: that is the last slot it knows.
    const v = d.cliJson<StateView>(['replay', '--until', String(fs[1]!.seq)]);
    assert.equal(v.schedules?.tick?.slot, fs[1]!.slot);
    assert.equal(v.schedules?.tick?.id, fs[1]!.id);
    assert.match(d.cli(['replay', '--until', String(fs[1]!.seq)]).stdout, /schedule tick: last fired slot .* as #\d+ to a/);
  } finally {
    await stop(d);
  }
});

test('no pile-up: with a 3 s handler, slots are skipped while the previous firing is unhandled', async (t) => {
  const d = await startDaemon(['agents:', agent(), 'schedules:', '  slow: { every: 1s, to: a, kind: slow, body: { ms: 3000 } }'], { waitReady: ['a'] });
  try {
    const recs = await journalUntil(d, '2 slow firings, the first acked', (r) => {
      const fs = firings(r, 'slow');
      return fs.length >= 2 && r.some((x) => x.type === 'ack' && x.ids.includes(fs[0]!.id));
    }, 20000);
    const fs = firings(recs, 'slow');
    // Each firing is accepted only after the one before it was acked.
    for (let i = 1; i < fs.length; i++) {
      const ack = recs.find((x) => x.type === 'ack' && x.ids.includes(fs[i - 1]!.id));
      assert.ok(ack && ack.seq < fs[i]!.seq, `firing ${i} (seq ${fs[i]!.seq}) came before the ack of firing ${i - 1}`);
      assert.ok(fs[i]!.slot! - fs[i - 1]!.slot! >= 2000, 'slots in between were skipped, not queued');
    }
    const row = d.cliJson<StatusResult>(['status']).schedules!.find((x) => x.name === 'slow')!;
    assert.ok(row.skipped >= 2, `skipped slots counted: ${row.skipped}`);
    t.diagnostic(`skipped ${row.skipped}, slots ${fs.map((f) => f.slot).join(', ')}`);
  } finally {
    await stop(d);
  }
});

test('catch_up fires once for slots missed while down; without it, none fire', async () => {
  const lines = ['agents:', agent(), 'schedules:',
    '  caught: { every: 1s, to: a, kind: record, catch_up: true }',
    '  missed: { every: 1s, to: a, kind: record }'];
  const d1 = await startDaemon(lines, { waitReady: ['a'] });
  await journalUntil(d1, 'both schedules fired', (r) => firings(r, 'caught').length >= 1 && firings(r, 'missed').length >= 1);
  await stop(d1);
  const before = await journalOf(d1);
  const lastSlot = (s: string) => Math.max(...firings(before, s).map((f) => f.slot!));
  const down = Math.max(lastSlot('caught'), lastSlot('missed'));
  // Downtime: at least two slots of each pass while nothing runs.
  await until('three slots to pass', () => (Date.now() > down + 3000 ? true : undefined), 10000);

  const d2 = await startDaemon(lines, { dir: d1.dir, waitReady: ['a'] });
  try {
    const startSeq = before.length ? before[before.length - 1]!.seq : 0;
    const recs = await journalUntil(d2, 'a firing of each schedule after the restart',
      (r) => firings(r.filter((x) => x.seq > startSeq), 'missed').length >= 1 && firings(r.filter((x) => x.seq > startSeq), 'caught').length >= 2);
    const run2 = recs.filter((x) => x.seq > startSeq);
    const restartAt = run2.find((x) => x.type === 'start')!.at;
    const missedDuringDowntime = (s: string) => firings(run2, s).filter((f) => f.slot! > lastSlot(s) && f.slot! <= restartAt);
    assert.equal(firings(run2, 'missed').filter((f) => f.slot! <= restartAt).length, 0, 'without catch_up no missed slot fires');
    assert.ok(missedDuringDowntime('caught').length <= 1, 'catch_up fires at most one missed slot');
    // The one catch-up: logged once, fired once, for a slot the downtime skipped (or, at the edge, the slot at start).
    const logged = d2.out().match(/catching up once/g) ?? [];
    assert.equal(logged.length, 1, d2.out());
    const first = firings(run2, 'caught')[0]!;
    assert.ok(first.slot! > lastSlot('caught') + 1000 && first.slot! <= first.at, 'the catch-up is for a past slot, later than the last one fired');
    assertNoSlotTwice(recs);
  } finally {
    await stop(d2);
  }
});

test('a supervisor SIGKILL just after a fire: that slot never fires again', async () => {
  const lines = ['agents:', agent(), 'journal: { fsync: always }', 'schedules:', '  tick: { every: 1s, to: a, kind: record, catch_up: true }'];
  const d1 = await startDaemon(lines, { waitReady: ['a'] });
  const before = await journalUntil(d1, 'a firing on disk', (r) => firings(r, 'tick').length >= 1, 15000);
  await stop(d1, 'SIGKILL');
  const killed = firings(before, 'tick').at(-1)!;

  const d2 = await startDaemon(lines, { dir: d1.dir, waitReady: ['a'] });
  try {
    const recs = await journalUntil(d2, 'two firings after the restart', (r) => firings(r, 'tick').filter((f) => f.seq > killed.seq).length >= 2);
    assertNoSlotTwice(recs);
    const restart = recs.filter((x) => x.type === 'start').at(-1)!;
    for (const f of firings(recs, 'tick').filter((x) => x.seq > restart.seq)) assert.ok(f.slot! > killed.slot!, `slot ${f.slot} is not after the killed run's last (${killed.slot})`);
    // The firing itself was not lost: handled in the first run, or redelivered in the second.
    await journalUntil(d2, 'the firing before the kill acked', (r) => r.some((x) => x.type === 'ack' && x.ids.includes(killed.id)));
  } finally {
    await stop(d2);
  }
});

test('a bad cron expression is refused with its key path, by check and by start', async () => {
  const lines = ['agents:', agent(), 'schedules:', '  nightly: { cron: "30 25 * * *", to: a, kind: record }'];
  const d = await startDaemon(['agents:', agent()], { waitReady: ['a'] });
  try {
    const { writeFileSync } = await import('node:fs');
    const bad = join(d.dir, 'bad.yaml');
    writeFileSync(bad, lines.join('\n') + '\n');
    const check = d.cli(['check', '-c', bad]);
    assert.equal(check.code, 2, check.stdout + check.stderr);
    assert.match(check.stderr + check.stdout, /schedules\.nightly\.cron: invalid cron expression/);
    const start = d.cli(['start', '-c', bad]);
    assert.equal(start.code, 2, start.stdout + start.stderr);
    assert.match(start.stderr + start.stdout, /schedules\.nightly\.cron/);
    // A reload to it is refused too, and the running config stays.
    writeFileSync(d.file, lines.join('\n') + '\n');
    const reload = d.cli(['reload']);
    assert.equal(reload.code, 2, reload.stdout + reload.stderr);
    assert.match(reload.stderr + reload.stdout, /schedules\.nightly\.cron/);
  } finally {
    await stop(d);
  }
});

test('reload adds and removes schedules without restarting agents', async () => {
  const base = ['agents:', agent()];
  const d = await startDaemon(base, { waitReady: ['a'] });
  try {
    const pid = d.cliJson<StatusResult>(['status']).agents[0]!.pid;
    const { writeFileSync } = await import('node:fs');
    writeFileSync(d.file, [...base, 'schedules:', '  added: { every: 1s, to: a, kind: record }'].join('\n') + '\n');
    assert.equal(d.cli(['reload']).code, 0);
    await journalUntil(d, 'the added schedule fired', (r) => firings(r, 'added').length >= 1);
    writeFileSync(d.file, base.join('\n') + '\n');
    assert.equal(d.cli(['reload']).code, 0);
    const s = d.cliJson<StatusResult>(['status']);
    assert.deepEqual(s.schedules, []);
    assert.equal(s.agents[0]!.pid, pid, 'the agent kept running');
    const reloads = (await journalOf(d)).filter((r) => r.type === 'reload');
    assert.deepEqual(reloads.map((r) => r.type === 'reload' && r.inPlace), [['schedules.added'], ['schedules.added']]);
  } finally {
    await stop(d);
  }
});
