// The pattern agent's counting, without processes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Note } from '../workers/agents/agenda/vault.js';
import { mostAsked, mostCited, normalise, parseLog, readConversations } from '../workers/agents/pattern/asked.js';
import { renderInsights, type Facts } from '../workers/agents/pattern/render.js';
import { staleItems } from '../workers/agents/pattern/stale.js';
import { tagCounts, topicCounts, words } from '../workers/agents/pattern/topics.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 2);
const note = (path: string, text: string, ageDays = 0, tags: string[] = []): Note => ({ path, title: path, text, tags, mtime: NOW - ageDays * DAY });

test('tags count notes, not mentions; agenda markers are not tags', () => {
  const notes = [
    note('a.md', '#garden #garden #date-2026-12-02', 0, ['garden']),
    note('b.md', 'some #Garden and #rust', 0),
    note('c.md', '```\n#incode\n```\nplain', 0, ['#rust']),
  ];
  assert.deepEqual(tagCounts(notes), [{ name: 'garden', notes: 2 }, { name: 'rust', notes: 2 }]);
});

test('a topic is a word found in at least two notes', () => {
  const notes = [note('a.md', 'Compost compost compost and tomatoes'), note('b.md', 'The tomatoes need compost'), note('c.md', 'zebra')];
  assert.deepEqual(topicCounts(notes), [{ name: 'compost', notes: 2 }, { name: 'tomatoes', notes: 2 }]);
  assert.deepEqual(words('Visit https://example.com [link](x/y.md) #tag with them'), ['visit', 'link']);
});

test('frontmatter keys are no topics, also beside a title', () => {
  const fm = (title: string) => ({ ...note(`${title}.md`, `---\ntitle: ${title}\ntags: [x]\n---\n# ${title}\nbeans`), title });
  assert.deepEqual(topicCounts([fm('Greenhouse'), fm('Compost')]), [{ name: 'beans', notes: 2 }]);
});

test('stale open items: open tasks in notes untouched for N days', () => {
  const notes = [note('old.md', '- [ ] fix fence\n- [x] done\n* [ ] call Bob', 30), note('new.md', '- [ ] fresh', 1)];
  const stale = staleItems(notes, NOW, 14);
  assert.deepEqual(stale.map((s) => [s.text, s.path, s.line, s.days]), [['fix fence', 'old.md', 1, 30], ['call Bob', 'old.md', 3, 30]]);
  assert.equal(staleItems(notes, NOW, 31).length, 0);
});

test('what was asked most: normalised questions, torn lines skipped', async () => {
  const log = parseLog([
    JSON.stringify({ time: 't', question: 'What is on my agenda today?', sources: ['a.md'] }),
    JSON.stringify({ time: 't', question: 'what is on my  agenda today', sources: ['a.md', 'b.md'] }),
    JSON.stringify({ time: 't', question: 'search compost', sources: [] }),
    '{"time":"t","question":"torn',
  ].join('\n'));
  assert.equal(log.length, 3);
  assert.equal(normalise('What’s ON, today?'), 'what s on today');
  assert.deepEqual(mostAsked(log), [{ question: 'What is on my agenda today?', times: 2 }, { question: 'search compost', times: 1 }]);
  assert.deepEqual(mostCited(log), [{ path: 'a.md', times: 2 }, { path: 'b.md', times: 1 }]);
  const dir = mkdtempSync(join(tmpdir(), 'outheis-asked-'));
  try {
    assert.deepEqual(await readConversations(join(dir, 'none')), [], 'no log yet is no questions');
    writeFileSync(join(dir, '2026-12-01.jsonl'), `${JSON.stringify({ time: 't', question: 'q1' })}\n`);
    writeFileSync(join(dir, 'other.txt'), 'not a log');
    assert.deepEqual((await readConversations(dir)).map((e) => e.question), ['q1']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the insights page: counted sections always, the summary only when there is one', () => {
  const facts: Facts = {
    date: '2026-12-02', notes: 3, tags: [{ name: 'garden', notes: 2 }], topics: [], stale: [{ text: 'fix fence', path: 'old.md', line: 1, days: 30 }],
    staleDays: 14, asked: [{ question: 'what is #on?', times: 2 }], cited: [], conversations: 2,
  };
  const plain = renderInsights(facts);
  assert.match(plain, /## Recurring tags\n\n- `garden`: 2 notes/);
  assert.match(plain, /fix fence \(\[old\.md\]\(\.\.\/old\.md\), 30 days\)/);
  assert.match(plain, /“what is \\#on\?”: 2 times/);
  assert.doesNotMatch(plain, /## Summary/);
  assert.match(renderInsights(facts, 'Gardening dominates.'), /## Summary\n\n.*\n\nGardening dominates\./);
});
