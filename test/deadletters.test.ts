// Dead letters, found and sent again: `outheis journal deadletters` lists them from
// the segment files (with or without a supervisor), and `outheis redrive` sends them
// again through the running supervisor, each as a new accepted message flagged as
// the redrive of the original id; a second redrive, or of what is no dead letter, is
// refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, tempDir, until } from './helpers/harness.js';
import { startDaemon, stop } from './helpers/daemon.js';

interface DeadJson { seq: number; id: number; from: string; to: string; kind: string; attempts: number; reason: string; state: string; redrivenAs: number | null }

test('a poison message is dead-lettered, listed, redriven once the agent is fixed, and handled; a second redrive is refused', { timeout: 120_000 }, async () => {
  const dir = tempDir('outheis-dead-');
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'data'));
  const flag = join(dir, 'data/fixed');
  const log = join(dir, 'data/handled.log');
  const lines = [
    'journal: { max_attempts: 3 }',
    // Each message crashes it three times: room for both under the root's restart intensity.
    'supervisor: { intensity: 20, period: 30s }',
    'agents:',
    `  picky: { run: ${fixture('picky.js')}, args: [${flag}, ${log}], owns: [data], unveil: { data: rw } }`,
  ];
  const d = await startDaemon(lines, { dir, waitReady: ['picky'] });
  const handled = (): string[] => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []);
  const dead = (args: string[] = []): DeadJson[] => {
    const r = d.cli(['journal', 'deadletters', '--json', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as DeadJson);
  };
  try {
    for (const n of [1, 2]) assert.equal(d.cli(['send', 'picky', 'work', JSON.stringify({ n })]).code, 0);
    await until('both dead-lettered', () => (dead().length === 2 ? true : undefined), 60_000);
    const [one, two] = dead();
    assert.deepEqual([one!.from, one!.to, one!.kind, one!.attempts, one!.state, one!.redrivenAs], ['operator', 'picky', 'work', 3, 'pending', null]);
    assert.match(one!.reason, /not acked after 3 deliveries/);
    const plain = d.cli(['journal', 'deadletters']).stdout;
    assert.match(plain, new RegExp(`^${one!.seq} \\S+ \\S+ #${one!.id} operator → picky kind=work after 3 attempts: not acked after 3 deliveries  pending$`, 'm'));

    // Not a dead letter: refused, naming it; nothing sent.
    const bogus = d.cli(['redrive', '4242']);
    assert.equal(bogus.code, 1);
    assert.match(bogus.stderr, /#4242 is not a dead letter/);
    const mixed = d.cli(['redrive', String(one!.id), '4242']);
    assert.equal(mixed.code, 1, 'all or nothing');
    assert.equal(dead().filter((x) => x.state === 'pending').length, 2, 'nothing was redriven by a refused request');

    writeFileSync(flag, '');
    const r = d.cli(['redrive', `#${one!.id}`]);
    assert.equal(r.code, 0, r.stderr);
    const as = Number(/^redriven #\d+ as #(\d+) → picky kind=work$/m.exec(r.stdout)?.[1]);
    assert.ok(as > one!.id, `a new message: ${r.stdout}`);
    await until('the redriven message handled', () => (handled().includes(`${as} 1`) ? true : undefined), 30_000);
    await until('shown handled', () => (dead()[0]!.state === 'handled' ? true : undefined), 10_000);
    assert.deepEqual(dead().map((x) => [x.id, x.state, x.redrivenAs]), [[one!.id, 'handled', as], [two!.id, 'pending', null]]);
    // The history is not rewritten: the accept of the new message says what it redrives.
    assert.match(d.cli(['journal', '--kind', 'accept']).stdout, new RegExp(`accept +#${as} operator → picky  kind=work qos=interactive \\(redrive of #${one!.id}\\)`));

    const again = d.cli(['redrive', String(one!.id), '--json']);
    assert.equal(again.code, 1);
    assert.deepEqual(JSON.parse(again.stdout).error.code, 'ENOTDEAD');
    assert.match(JSON.parse(again.stdout).error.message, new RegExp(`#${one!.id} was already redriven, as #${as}`));

    // The rest by agent; then there is nothing left to redrive.
    const rest = d.cliJson<{ redriven: { id: number; as: number }[] }>(['redrive', '--agent', 'picky']);
    assert.deepEqual(rest.redriven.map((x) => x.id), [two!.id]);
    await until('the second handled', () => (handled().includes(`${rest.redriven[0]!.as} 2`) ? true : undefined), 30_000);
    const none = d.cli(['redrive', '--all']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no dead letters waiting for a redrive/);
    assert.equal(d.cli(['redrive']).code, 2, 'a redrive names what to send');
  } finally {
    await stop(d);
  }
  // From the files alone, with no supervisor running.
  const r = d.cli(['journal', 'deadletters', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as DeadJson).state), ['handled', 'handled']);
  assert.equal(d.cli(['journal', 'deadletters', '--pending']).stdout, '');
  assert.equal(handled().length, 2, 'each handled once');
});
