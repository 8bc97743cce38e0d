// The data agent (`run: outheis:data`) on a real vault, under a real `outheis
// start` in its default mode (as root: a uid of its own, bubblewrap, Node's
// permission model): search by body and by tag, edits made by a person while it
// runs, paths that try to leave the vault, atomic writes, list, and bad bodies.
// Path confinement on its own, without a supervisor, at the end.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, readFileSync, renameSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ask, ClientError } from '../cli/client.js';
import type { DetailResult } from '../supervisor/control/protocol.js';
import type { ListRes, ReadRes, SearchRes, WriteRes } from '../workers/agents/messages.js';
import { parseNote, snippetOf } from '../workers/agents/data/note.js';
import { cleanPath, notePath, realPathIn } from '../workers/agents/data/paths.js';
import { NoteIndex, tokenize } from '../workers/agents/data/search-index.js';
import { agentOf, ROOTLESS_USER, startDaemon, stop, type Daemon } from './helpers/daemon.js';
import { until } from './helpers/harness.js';

const made: string[] = [];

/** World-traversable (mkdtemp makes 0700, which the agent's own uid cannot enter); removed once the supervisor has stopped. */
function worldDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'outheis-data-'));
  chmodSync(dir, 0o755);
  made.push(dir);
  return dir;
}

const GARDEN = `---
title: Garden plans
tags: [outdoors, "#seasonal"]
---
# Beds

Plant the tomatoes next to the fence, before the rain. #spring
`;
const STANDUP = '# Standup\n\nDiscuss the quarterly roadmap with the team. #meeting #date-2026-12-02\n';
const SECRET = 'outside the vault: nobody may read or change this\n';

let d: Daemon;
let dir: string;
let vault: string;
let outside: string;

type Failure = { code: string; message: string };
/** A request to the data agent as the operator: its reply, or the refusal (code and message). */
async function call<T>(kind: string, body: unknown): Promise<T> {
  const r = await ask({ stateDir: d.stateDir }, { op: 'send', to: 'data', kind, body, wait: true });
  return (r as { reply: T }).reply;
}
async function refusal(kind: string, body: unknown): Promise<Failure> {
  try {
    const r = await call<unknown>(kind, body);
    assert.fail(`${kind} ${JSON.stringify(body)} was answered: ${JSON.stringify(r)}`);
  } catch (err) {
    if (!(err instanceof ClientError)) throw err;
    return { code: err.code, message: err.message };
  }
}
const search = (q: string, limit?: number) => call<SearchRes>('search', limit === undefined ? { q } : { q, limit });
const found = async (q: string) => (await search(q)).hits.map((h) => h.path);

before(async () => {
  dir = worldDir();
  vault = join(dir, 'vault');
  outside = join(dir, 'outside');
  mkdirSync(join(vault, 'work'), { recursive: true, mode: 0o755 });
  mkdirSync(outside, { mode: 0o755 });
  writeFileSync(join(vault, 'garden.md'), GARDEN);
  writeFileSync(join(vault, 'work', 'standup.md'), STANDUP);
  writeFileSync(join(outside, 'secret.md'), SECRET);
  symlinkSync(outside, join(vault, 'leak'));
  symlinkSync(join(outside, 'secret.md'), join(vault, 'leak.md'));
  // --rescan 0: what the agent learns of a person's edits, it learns from its watcher alone.
  d = await startDaemon([
    'agents:',
    '  data: { run: "outheis:data", args: [--vault, vault, --rescan, "0"], owns: [vault], unveil: { vault: rw }, shutdown: 2s }',
  ], { dir, waitReady: ['data'] });
});

after(async () => {
  if (d) await stop(d);
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

test('it runs as outheis:data, sandboxed, and status shows the name it was given', () => {
  const row = agentOf(d, 'data');
  assert.equal(row.state, 'running');
  const detail = d.cliJson<DetailResult>(['status', 'data']);
  assert.equal(detail.manifest.run, 'outheis:data');
  if (process.getuid!() === 0) assert.ok(row.isolation.layers.includes('namespaces') && row.isolation.layers.includes('uid'), `isolated: ${row.isolation.layers.join(',')}`);
});

test('search finds a note by a word in its body, with its title and a snippet around the word', async () => {
  const { hits } = await search('tomatoes');
  assert.equal(hits.length, 1, JSON.stringify(hits));
  assert.equal(hits[0]!.path, 'garden.md');
  assert.equal(hits[0]!.title, 'Garden plans', 'the frontmatter title');
  assert.match(hits[0]!.snippet, /tomatoes/);
  assert.ok(hits[0]!.score > 0);
  assert.deepEqual(await found('roadmap'), ['work/standup.md']);
});

test('search finds a note by a tag: #tag in the text and tags: in the frontmatter', async () => {
  assert.deepEqual(await found('#meeting'), ['work/standup.md']);
  assert.deepEqual(await found('#spring'), ['garden.md']);
  assert.deepEqual(await found('outdoors'), ['garden.md'], 'a frontmatter tag');
  assert.deepEqual(await found('#date-2026-12-02'), ['work/standup.md'], 'a dated tag, whole');
  const { hits } = await search('standup');
  assert.equal(hits[0]?.title, 'Standup', 'the first heading is the title without frontmatter');
});

test('an edit made outside outheis is found: a plain write, a new note, and an editor\'s rename over the note', async () => {
  writeFileSync(join(vault, 'garden.md'), GARDEN.replace('tomatoes', 'cucumbers'));
  await until('the edited note to be found by its new word', async () => ((await found('cucumbers')).includes('garden.md') ? true : undefined));
  assert.deepEqual(await found('tomatoes'), [], 'and no longer by the word it lost');

  mkdirSync(join(vault, 'journal'), { mode: 0o755 });
  writeFileSync(join(vault, 'journal', 'day.md'), 'Saw an aardvark today.\n');
  await until('a new note in a new directory', async () => ((await found('aardvark')).includes('journal/day.md') ? true : undefined));

  // vim and friends: write a temp file, then rename it over the note.
  const tmp = join(vault, 'work', '.standup.md.swp');
  writeFileSync(tmp, '# Standup\n\nThe wombat project is late. #meeting\n');
  renameSync(tmp, join(vault, 'work', 'standup.md'));
  await until('the renamed-over note', async () => ((await found('wombat')).includes('work/standup.md') ? true : undefined));
  assert.deepEqual(await found('roadmap'), []);
  assert.ok(!(await call<ListRes>('list', {})).notes.some((n) => n.path.includes('.swp')), 'the editor\'s temp file is no note');

  renameSync(join(vault, 'journal'), join(vault, 'diary'));
  await until('a renamed directory\'s notes under their new path', async () => ((await found('aardvark')).join() === 'diary/day.md' ? true : undefined));

  unlinkSync(join(vault, 'diary', 'day.md'));
  await until('a deleted note to leave the index', async () => ((await found('aardvark')).length === 0 ? true : undefined));
});

test('a path escape is refused for read and write with EPATH, and nothing outside changes', async () => {
  const before = readdirSync(dir).sort();
  const escapes = ['../x.md', '../outside/secret.md', '/etc/passwd', `${outside}/secret.md`, 'leak/secret.md', 'leak.md', 'work/../../x.md', 'a\0b.md'];
  for (const path of escapes) {
    for (const [kind, body] of [['read', { path }], ['write', { path, text: 'pwned' }]] as const) {
      const r = await refusal(kind, body);
      assert.equal(r.code, 'EHANDLER', `${kind} ${JSON.stringify(path)}: ${r.message}`);
      assert.match(r.message, /^EPATH: /, `${kind} ${JSON.stringify(path)}: ${r.message}`);
    }
  }
  assert.match((await refusal('read', { path: 'leak/secret.md' })).message, /leak is a symlink that leads out of the vault/);
  assert.equal(readFileSync(join(outside, 'secret.md'), 'utf8'), SECRET);
  assert.deepEqual(readdirSync(outside), ['secret.md']);
  assert.deepEqual(readdirSync(dir).sort(), before, 'no x.md beside the vault');
  assert.ok(!(await found('nobody')).length, 'a note behind a symlink out is not indexed either');
  // Nor one a person links in while it runs: the note written after it is the sign the watcher got there.
  symlinkSync(join(outside, 'secret.md'), join(vault, 'sneaky.md'));
  writeFileSync(join(vault, 'sentinel.md'), 'platypus\n');
  await until('the note written after the link', async () => ((await found('platypus')).length ? true : undefined));
  assert.deepEqual(await found('nobody'), []);
  assert.match((await refusal('read', { path: 'sneaky.md' })).message, /^EPATH: sneaky\.md: sneaky\.md is a symlink that leads out of the vault/);
});

test('write: the text is on disk, no temp file is left, and a search right after finds it', async () => {
  const text = '# Idea\n\nTeach the quokka to fetch. #pets\n';
  const w = await call<WriteRes>('write', { path: 'inbox/ideas/idea.md', text });
  assert.deepEqual(w, { path: 'inbox/ideas/idea.md', bytes: Buffer.byteLength(text) });
  assert.deepEqual(await found('quokka'), ['inbox/ideas/idea.md'], 'indexed at once, not when the watcher gets to it');
  assert.equal(readFileSync(join(vault, 'inbox/ideas/idea.md'), 'utf8'), text);
  assert.deepEqual(readdirSync(join(vault, 'inbox/ideas')), ['idea.md'], 'no temp file left beside it');
  const again = '# Idea\n\nThe quokka learned. #pets\n';
  await call<WriteRes>('write', { path: './inbox//ideas/idea.md', text: again });
  assert.equal(readFileSync(join(vault, 'inbox/ideas/idea.md'), 'utf8'), again, 'a rewrite replaces it');
  assert.deepEqual(readdirSync(join(vault, 'inbox/ideas')), ['idea.md']);
  const r = await call<ReadRes>('read', { path: 'inbox/ideas/idea.md' });
  assert.equal(r.text, again);
  assert.deepEqual(r.tags, ['pets']);
});

test('read: frontmatter and tags parsed; a missing note is ENOTFOUND; a non-note is EPATH', async () => {
  const r = await call<ReadRes>('read', { path: 'garden.md' });
  assert.equal(r.title, 'Garden plans');
  assert.deepEqual(r.frontmatter.tags, ['outdoors', '#seasonal']);
  assert.deepEqual(r.tags, ['outdoors', 'seasonal', 'spring']);
  assert.ok(r.mtime > 0);
  assert.match((await refusal('read', { path: 'nope.md' })).message, /^ENOTFOUND: /);
  assert.match((await refusal('write', { path: 'notes.txt', text: 'x' })).message, /^EPATH: .*\*\.md/);
});

test('list: every note with title and tags, and under a directory only its notes', async () => {
  const { notes } = await call<ListRes>('list', {});
  const paths = notes.map((n) => n.path);
  assert.ok(paths.includes('garden.md') && paths.includes('work/standup.md'), paths.join(', '));
  assert.ok(!paths.some((p) => p.startsWith('leak')), 'not what lies behind a symlink');
  assert.deepEqual(notes.find((n) => n.path === 'garden.md')?.tags, ['outdoors', 'seasonal', 'spring']);
  assert.deepEqual((await call<ListRes>('list', { under: 'work' })).notes.map((n) => n.path), ['work/standup.md']);
  assert.match((await refusal('list', { under: '../' })).message, /^EPATH: /);
});

test('a malformed body answers EBADREQ naming what was wrong, and the agent keeps running', async () => {
  const pid = agentOf(d, 'data').pid;
  const bad = await refusal('search', { q: 5 });
  assert.equal(bad.code, 'EHANDLER');
  assert.match(bad.message, /^EBADREQ: search: q: /);
  assert.match((await refusal('write', { path: 'x.md' })).message, /^EBADREQ: write: text: /);
  assert.match((await refusal('read', 'garden.md')).message, /^EBADREQ: read: /);
  assert.match((await refusal('search', { q: 'x', limit: 1000 })).message, /^EBADREQ: search: limit: /);
  assert.equal(agentOf(d, 'data').pid, pid, 'the same process');
  assert.equal(agentOf(d, 'data').restarts ?? 0, 0);
  assert.deepEqual(await found('cucumbers'), ['garden.md'], 'and it still answers');
});

describe('path confinement, on its own', () => {
  test('cleanPath: relative paths are normalised; absolute, NUL and ".." are EPATH', () => {
    assert.equal(cleanPath('./a//b/c.md'), 'a/b/c.md');
    assert.equal(cleanPath(''), '');
    for (const p of ['/a.md', 'a/../../b.md', '..', 'a\0.md']) assert.throws(() => cleanPath(p), (e: Error & { code?: string }) => e.code === 'EPATH', p);
  });

  test('notePath: only visible *.md files', () => {
    assert.equal(notePath('a/b.md'), 'a/b.md');
    for (const p of ['a/b.txt', '.md', 'a/.hidden.md', '.git/x.md', 'a/']) assert.throws(() => notePath(p), /^Error: EPATH: |EPATH: /, p);
  });

  test('realPathIn: a symlink at any component is followed only while it stays inside', () => {
    const root = worldDir();
    const v = join(root, 'v');
    mkdirSync(join(v, 'd'), { recursive: true });
    writeFileSync(join(root, 'out.md'), 'x');
    symlinkSync(join(v, 'd'), join(v, 'inner'));
    symlinkSync(root, join(v, 'up'));
    symlinkSync(join(root, 'gone'), join(v, 'dangling'));
    symlinkSync('d', join(v, 'relative-in'));
    assert.deepEqual(realPathIn(v, 'inner/n.md'), { real: join(v, 'd', 'n.md'), exists: false });
    assert.deepEqual(realPathIn(v, 'new/deep/n.md'), { real: join(v, 'new/deep/n.md'), exists: false });
    assert.throws(() => realPathIn(v, 'up/out.md'), /up is a symlink that leads out of the vault/);
    assert.throws(() => realPathIn(v, 'up/v/d/n.md'), /leads out/, 'even when it would come back in');
    assert.throws(() => realPathIn(v, 'dangling/n.md'), /leads out/);
    assert.ok(existsSync(join(v, 'relative-in')));
    assert.deepEqual(realPathIn(v, 'relative-in/n.md'), { real: join(v, 'd', 'n.md'), exists: false });
  });
});

describe('a note, parsed', () => {
  test('title: frontmatter, else the first "# " heading, else the file name', () => {
    assert.equal(parseNote('a/x.md', '---\ntitle: T\n---\n# H\n', 0, 0).title, 'T');
    assert.equal(parseNote('a/x.md', '## Sub\n# H\n', 0, 0).title, 'H');
    assert.equal(parseNote('a/x.md', 'no heading', 0, 0).title, 'x');
  });

  test('tags: #tag in prose and tags: in frontmatter, not headings, URL fragments, entities or code', () => {
    const text = '---\ntags: one, "#two"\n---\n# Head\n## Sub\nSee [x](page.md#part) &#35; and #three, (#four) #date-2026-01-02.\n```\n#include <x>\n```\n';
    const n = parseNote('x.md', text, 0, 0);
    assert.deepEqual(n.tags, ['one', 'two', 'three', 'four', 'date-2026-01-02']);
    assert.deepEqual(n.headings, ['Head', 'Sub']);
  });

  test('frontmatter a person got wrong, or that is code, leaves the note as text and runs nothing', () => {
    const broken = parseNote('x.md', '---\ntitle: [unclosed\n---\nbody words', 0, 0);
    assert.deepEqual(broken.frontmatter, {});
    assert.match(broken.body, /body words/);
    const g = globalThis as { pwned?: boolean };
    const js = parseNote('x.md', '---js\n{ title: (globalThis.pwned = true, "js") }\n---\nbody', 0, 0);
    assert.equal(g.pwned, undefined, 'the frontmatter was not evaluated');
    assert.notEqual(js.title, 'js');
  });

  test('a snippet is a window around the first match, cut at words', () => {
    const body = `${'lorem '.repeat(60)}the needle is here ${'ipsum '.repeat(60)}`;
    const s = snippetOf(body, ['needle']);
    assert.match(s, /^….*needle.*…$/);
    assert.ok(s.length <= 162, `${s.length}`);
    assert.equal(snippetOf('short body', ['x']), 'short body');
  });

  test('the index: a title outranks a body, a replaced note loses its old words, a removed one is gone, punctuation finds nothing', () => {
    const index = new NoteIndex();
    index.put(parseNote('body.md', '# Other\n\nsomething about otters here', 1, 1));
    index.put(parseNote('title.md', '# Otters\n\nriver animals', 1, 1));
    assert.deepEqual(index.search('otters', 10).map((h) => h.path), ['title.md', 'body.md']);
    assert.deepEqual(index.search('otter', 1).map((h) => h.path), ['title.md'], 'a prefix finds, and limit cuts');
    index.put(parseNote('body.md', '# Other\n\nnow about beavers', 2, 2));
    assert.deepEqual(index.search('otters', 10).map((h) => h.path), ['title.md']);
    assert.ok(index.remove('title.md'));
    assert.deepEqual(index.search('otters', 10), []);
    assert.deepEqual(index.search('?!', 10), []);
    assert.deepEqual(index.list('').map((n) => n.path), ['body.md']);
  });

  test('tokens: tags and dates whole and in parts', () => {
    assert.deepEqual(tokenize('#date-2026-01-02 project/alpha'), ['date-2026-01-02', 'date', '2026', '01', '02', 'project/alpha', 'project', 'alpha']);
  });
});

// As root, the supervisor is run as nobody (setpriv); a test run that is not root is rootless already.
describe('rootless: the same agent under a supervisor run as an unprivileged user', () => {
  let r: Daemon;
  let rvault: string;
  const send = <T>(kind: string, body: unknown): T => {
    const out = r.cli(['send', 'data', kind, JSON.stringify(body), '--wait', '--json']);
    assert.equal(out.code, 0, `${kind}: ${out.stderr}${out.stdout}`);
    return (JSON.parse(out.stdout) as { reply: T }).reply;
  };

  before(async () => {
    const rdir = worldDir();
    rvault = join(rdir, 'vault');
    mkdirSync(rvault, { mode: 0o755 });
    writeFileSync(join(rvault, 'a.md'), '# Rootless\n\nA heron on the lake. #birds\n');
    r = await startDaemon([
      'agents:',
      '  data: { run: "outheis:data", args: [--vault, vault, --rescan, "0"], owns: [vault], unveil: { vault: rw }, shutdown: 2s }',
    ], { dir: rdir, user: process.getuid!() === 0 ? ROOTLESS_USER : undefined, waitReady: ['data'] });
  });
  after(async () => {
    if (r) await stop(r);
  });

  test('search, write and a person\'s edit, as the supervisor\'s own user', async () => {
    assert.deepEqual(send<SearchRes>('search', { q: '#birds' }).hits.map((h) => h.path), ['a.md']);
    assert.deepEqual(send<WriteRes>('write', { path: 'b/c.md', text: 'a kingfisher' }), { path: 'b/c.md', bytes: 12 });
    assert.equal(readFileSync(join(rvault, 'b/c.md'), 'utf8'), 'a kingfisher');
    assert.deepEqual(send<SearchRes>('search', { q: 'kingfisher' }).hits.map((h) => h.path), ['b/c.md']);
    writeFileSync(join(rvault, 'a.md'), '# Rootless\n\nA cormorant now. #birds\n');
    await until('the edit', () => (send<SearchRes>('search', { q: 'cormorant' }).hits.length ? true : undefined));
  });
});
