// The agenda's pure parts: which lines are items, what Agenda.md says, what `add` writes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appendLine, INBOX_HEAD, itemLine } from '../workers/agents/agenda/add.js';
import { itemsIn, itemText, sortItems } from '../workers/agents/agenda/items.js';
import { renderAgenda } from '../workers/agents/agenda/page.js';
import { addDays, isRealDate, localDate, parseDuration } from '../workers/agents/agenda/time.js';

test('a line with a date tag is an item; its text has no tags or list markers', () => {
  const text = [
    '# Week',
    '- [ ] Dentist #date-2026-12-02 #time-09:30 #health',
    'Call Anna #date-2026-12-02',
    'no tag here, just #date-talk',
    '* Release #date-2026-12-03',
  ].join('\n');
  const items = itemsIn('notes/week.md', text);
  assert.deepEqual(items, [
    { date: '2026-12-02', time: '09:30', text: 'Dentist #health', path: 'notes/week.md', line: 2 },
    { date: '2026-12-02', text: 'Call Anna', path: 'notes/week.md', line: 3 },
    { date: '2026-12-03', text: 'Release', path: 'notes/week.md', line: 5 },
  ]);
});

test('frontmatter, code blocks and impossible dates are not items', () => {
  const text = ['---', 'title: x #date-2026-12-02', '---', '```', 'echo #date-2026-12-02', '```', 'Bad #date-2026-02-30', 'Good #date-2026-02-28 #time-25:00'].join('\n');
  const items = itemsIn('a.md', text);
  assert.equal(items.length, 1);
  assert.equal(items[0]!.date, '2026-02-28');
  assert.equal(items[0]!.time, undefined, 'an impossible time is not a time');
});

test('a line with two dates is an item on each; an item with no words is named by its note', () => {
  const items = itemsIn('plans/trip.md', '- #date-2026-12-24 #date-2026-12-25');
  assert.deepEqual(items.map((i) => [i.date, i.text]), [['2026-12-24', 'trip'], ['2026-12-25', 'trip']]);
  assert.equal(itemText('1. [x] Done thing #date-2026-01-01'), 'Done thing');
});

test('items sort by date, all-day first, then time', () => {
  const s = sortItems([
    { date: '2026-12-02', time: '14:00', text: 'b', path: 'a.md', line: 1 },
    { date: '2026-12-01', time: '08:00', text: 'x', path: 'a.md', line: 9 },
    { date: '2026-12-02', text: 'all day', path: 'z.md', line: 1 },
    { date: '2026-12-02', time: '09:00', text: 'a', path: 'a.md', line: 2 },
  ]);
  assert.deepEqual(s.map((i) => i.text), ['x', 'all day', 'a', 'b']);
});

test('Agenda.md lists the upcoming days only, carries no tags, and is the same bytes for the same items', () => {
  const items = [
    { date: '2026-12-01', text: 'yesterday', path: 'a.md', line: 1 },
    { date: '2026-12-02', time: '09:00', text: 'Dentist #health', path: 'notes/my week.md', line: 2 },
    { date: '2026-12-20', text: 'too far', path: 'a.md', line: 3 },
  ];
  const page = renderAgenda(items, '2026-12-02', 14);
  assert.match(page, /## Wednesday, 2 December 2026 \(2026-12-02\)/);
  assert.match(page, /- 09:00 Dentist \\#health \(\[notes\/my week\.md\]\(notes\/my%20week\.md\)\)/);
  assert.doesNotMatch(page, /yesterday|too far/);
  assert.equal(itemsIn('Agenda.md', page).length, 0, 'the page is not a source of items');
  assert.equal(renderAgenda(items, '2026-12-02', 14), page);
  assert.match(renderAgenda([], '2026-12-02', 7), /Nothing is planned/);
});

test('add writes one tagged line, appended on a line of its own', () => {
  const line = itemLine({ text: 'Buy\nmilk #date-1999-01-01', date: '2026-12-02', time: '18:00' });
  assert.equal(line, '- Buy milk #date-2026-12-02 #time-18:00');
  assert.deepEqual(itemsIn('Agenda/inbox.md', appendLine(undefined, line)).map((i) => [i.text, i.date, i.time]), [['Buy milk', '2026-12-02', '18:00']]);
  assert.ok(appendLine(undefined, line).startsWith(INBOX_HEAD));
  assert.equal(appendLine('x', line), `x\n${line}\n`);
  assert.equal(appendLine('x\n', line), `x\n${line}\n`);
});

test('dates: local, real, calendar arithmetic, durations', () => {
  assert.match(localDate(), /^\d{4}-\d{2}-\d{2}$/);
  assert.equal(addDays('2026-12-31', 1), '2027-01-01');
  assert.equal(addDays('2026-03-01', -1), '2026-02-28');
  assert.equal(isRealDate('2024-02-29'), true);
  assert.equal(isRealDate('2026-02-29'), false);
  assert.equal(parseDuration('5m', 'x'), 300_000);
  assert.throws(() => parseDuration('soon', '--refresh'), /--refresh: .*"soon"/);
});
