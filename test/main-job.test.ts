// The main job, as the README gives it: `outheis init` writes the five agents'
// config and a sample vault, `outheis start` runs them sandboxed, and the operator
// asks relay (send --wait, and `outheis chat` on a pipe) with no model at all.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { localDate } from '../cli/commands/init.js';
import { startDaemon, stop, type Daemon } from './helpers/daemon.js';
import { CLI, tempDir } from './helpers/harness.js';

const AGENTS = ['data', 'llm', 'agenda', 'pattern', 'relay'];
const outheis = (args: string[], input?: string) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', input, timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });

let dir: string;
let d: Daemon | undefined;

before(() => {
  // As a user's home or /srv would be: the agents' own uids pass through it to the vault.
  const top = tempDir('outheis-main-');
  chmodSync(top, 0o755);
  dir = join(top, 'assistant');
});
after(async () => {
  if (d) await stop(d);
});

test('init writes the five agents on a sample vault with a note dated today, and says what to run next', () => {
  const r = outheis(['init', dir]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /outheis start -c .*outheis\.yaml/);
  assert.match(r.stdout, /outheis chat -c .*outheis\.yaml/);
  const config = readFileSync(join(dir, 'outheis.yaml'), 'utf8');
  for (const a of AGENTS) assert.match(config, new RegExp(`run: outheis:${a}\\b`), `${a} in the config`);
  // Every manifest is written out in full: relay's grants, and llm's network, are there to read.
  assert.match(config, /pledge: \[send:data, send:agenda, send:llm\]/);
  assert.match(config, /pledge: \[net\]/);
  const today = readFileSync(join(dir, 'vault', 'daily', `${localDate()}.md`), 'utf8');
  assert.match(today, new RegExp(`#date-${localDate()}`));
  assert.ok(existsSync(join(dir, 'vault', 'projects', 'greenhouse.md')));
  const check = outheis(['check', '-c', join(dir, 'outheis.yaml')]);
  assert.equal(check.status, 0, check.stderr + check.stdout);
  assert.match(check.stdout, /ok \(5 agents/);
});

test('init refuses to overwrite a config, keeps it with --keep, and names a missing --vault', () => {
  const again = outheis(['init', dir]);
  assert.equal(again.status, 2);
  assert.match(again.stderr, /exists already.*--force.*--keep/);
  assert.equal(outheis(['init', dir, '--keep']).status, 0);
  const bad = outheis(['init', tempDir(), '--vault', '/nonexistent/vault']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--vault \/nonexistent\/vault: not a directory/);
});

test('npm start\'s job: the agents run sandboxed and relay answers from the vault with no model', async () => {
  const lines = readFileSync(join(dir, 'outheis.yaml'), 'utf8').split('\n');
  d = await startDaemon(lines, { dir, waitReady: AGENTS });
  const r = d.cli(['send', 'relay', 'ask', JSON.stringify({ text: 'what is on my agenda today?' }), '--wait', '--json']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const reply = (JSON.parse(r.stdout) as { reply: { text: string; sources: string[] } }).reply;
  assert.match(reply.text, /Call Mira/);
  assert.match(reply.text, /10:00/);
  assert.ok(reply.sources.some((s) => s.endsWith(`daily/${localDate()}.md`)), `sources: ${reply.sources.join(', ')}`);
  // The conversation is in the journal, as messages: the operator's ask and relay's own asks of agenda.
  const journal = d.cli(['journal', '--agent', 'relay', '--json']);
  assert.equal(journal.code, 0, journal.stderr);
  assert.match(journal.stdout, /"kind":"ask"/);
  assert.match(journal.stdout, /"kind":"today"/);
});

test('outheis chat: a line in, the answer and its sources out', () => {
  const r = outheis(['chat', '-c', join(dir, 'outheis.yaml')], 'search polycarbonate\n');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /relay> /);
  assert.match(r.stdout, /greenhouse/i);
  assert.match(r.stdout, /sources:\n\s+- .*projects\/greenhouse\.md/);
  assert.ok(existsSync(join(dir, '.outheis', 'chat-history')), 'the history is kept for the up arrow');
  assert.match(readFileSync(join(dir, '.outheis', 'chat-history'), 'utf8'), /search polycarbonate/);
});
