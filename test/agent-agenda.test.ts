// outheis:agenda under a real `outheis start`, beside outheis:data on a vault on disk.
// The agenda has no vault of its own (no unveil): what it lists it read through
// data, and what it adds data wrote, which the files' owner on disk shows.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TodayRes, addRes } from '../workers/agents/messages.js';
import type * as z from 'zod';

type AddRes = z.infer<typeof addRes>;
import { agentOf, replyOf, sendAsync, startDaemon, stop, uidOf, type Daemon } from './helpers/daemon.js';
import { until } from './helpers/harness.js';

/** A zone far from UTC, so that "today" is the agent's own date most hours of the day. */
const TZ = 'Pacific/Kiritimati';
const dateIn = (tz: string, d = new Date()) => new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
const plusDays = (iso: string, n: number) => new Date(Date.parse(`${iso}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);




function writeNote(vault: string, path: string, text: string): void {
  mkdirSync(dirname(join(vault, path)), { recursive: true, mode: 0o755 });
  writeFileSync(join(vault, path), text);
}

describe('agenda', () => {
  let d: Daemon;
  let dir: string;
  let vault: string;
  const today = dateIn(TZ);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'outheis-agenda-'));
    chmodSync(dir, 0o755);
    vault = join(dir, 'vault');
    writeNote(vault, 'notes/week.md', `# Week\n\n- [ ] Dentist #date-${today} #time-09:30 #health\n- Call Anna #date-${today}\n- Later #date-${plusDays(today, 30)}\n`);
    writeNote(vault, 'notes/other.md', `# Other\n\nBook club #date-${plusDays(today, 2)} #time-19:00\n`);
    d = await startDaemon([
      'agents:',
      `  data: { run: "outheis:data", args: [--vault, ${vault}], owns: [vault], unveil: { vault: rw } }`,
      '  agenda: { run: "outheis:agenda", after: [data], pledge: [send:data], env: [TZ] }',
    ], { dir, waitReady: ['data', 'agenda'], env: { ...process.env, TZ } });
  });

  after(async () => {
    if (d) await stop(d);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('today lists the items dated today, in the agent\'s time zone, all-day first', async () => {
    const res = await replyOf(sendAsync<TodayRes>(d, 'agenda', 'today', {}));
    assert.deepEqual(res, {
      date: today,
      items: [{ text: 'Call Anna', path: 'notes/week.md' }, { text: 'Dentist #health', path: 'notes/week.md', time: '09:30' }],
    });
    const other = await replyOf(sendAsync<TodayRes>(d, 'agenda', 'today', { date: plusDays(today, 2) }));
    assert.deepEqual(other.items, [{ text: 'Book club', path: 'notes/other.md', time: '19:00' }]);
  });

  test('Agenda.md is written at start, through data, listing the upcoming days', async () => {
    const page = join(vault, 'Agenda.md');
    const text = await until('Agenda.md to be written', () => (existsSync(page) ? readFileSync(page, 'utf8') : undefined));
    assert.match(text, new RegExp(`## .*\\(${today}\\)\\n\\n- Call Anna .*\\n- 09:30 Dentist`));
    assert.match(text, /19:00 Book club/);
    assert.doesNotMatch(text, /Later/, 'thirty days out is not upcoming');
    assert.equal(statSync(page).uid, uidOf(d, 'data'), 'data wrote it');
  });

  test('add appends a tagged line through data, and Agenda.md lists it', async () => {
    const date = plusDays(today, 1);
    const res = await replyOf(sendAsync<AddRes>(d, 'agenda', 'add', { text: 'Pick up parcel', date, time: '17:15' }));
    assert.deepEqual(res, { path: 'Agenda/inbox.md', date });
    const inbox = join(vault, 'Agenda/inbox.md');
    assert.match(readFileSync(inbox, 'utf8'), new RegExp(`^- Pick up parcel #date-${date} #time-17:15$`, 'm'));
    assert.notEqual(uidOf(d, 'agenda'), uidOf(d, 'data'));
    assert.equal(statSync(inbox).uid, uidOf(d, 'data'), 'the file was written by data, the vault\'s only writer');
    assert.match(readFileSync(join(vault, 'Agenda.md'), 'utf8'), /- 17:15 Pick up parcel \(\[Agenda\/inbox\.md\]/);
    const listed = await replyOf(sendAsync<TodayRes>(d, 'agenda', 'today', { date }));
    assert.deepEqual(listed.items, [{ text: 'Pick up parcel', path: 'Agenda/inbox.md', time: '17:15' }]);
  });

  test('an item typed into a note in an editor is listed, and refresh puts it on the page', async () => {
    writeNote(vault, 'notes/typed.md', `Typed by hand #date-${today} #time-12:00\n`);
    await until('the typed item to be listed', async () => {
      const r = await replyOf(sendAsync<TodayRes>(d, 'agenda', 'today', {}));
      return r.items.some((i) => i.text === 'Typed by hand') ? true : undefined;
    });
    const res = await replyOf(sendAsync<{ changed: boolean }>(d, 'agenda', 'refresh', {}));
    assert.equal(res.changed, true);
    assert.match(readFileSync(join(vault, 'Agenda.md'), 'utf8'), /- 12:00 Typed by hand/);
    assert.equal((await replyOf(sendAsync<{ changed: boolean }>(d, 'agenda', 'refresh', {}))).changed, false, 'an unchanged page is not rewritten');
  });

  test('a bad body is answered with what was wrong, and the agenda carries on', async () => {
    const r = await sendAsync(d, 'agenda', 'add', { text: '', date: 'next friday' });
    assert.ok(!r.ok);
    assert.match(r.error, /EBADREQ: add: text: .*date: a date as YYYY-MM-DD/);
    assert.equal(agentOf(d, 'agenda').restarts, 0);
  });
});
