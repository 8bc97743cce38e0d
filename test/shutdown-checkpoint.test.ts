// `checkpoint` in onShutdown (issue 10, item 12): an agent that saves its state on the
// way out gets it back after `outheis restart`, after a full stop and start, and the
// checkpoint is in the journal before the supervisor exits. Sends from the hook are
// accepted too.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { readRecords } from '../logs/journal/recover.js';
import type { AnyRecord } from '../logs/journal/schema.js';

type RecordOf<T extends AnyRecord['type']> = Extract<AnyRecord, { type: T }>;
import { unpackValue } from '../protocol/frame.js';
import { startDaemon, stop, type Daemon } from './helpers/daemon.js';
import { fixture } from './helpers/harness.js';

const saver = fixture('saver.js');
const echo = fixture('echo.js');

const reply = <T>(d: Daemon, agent: string, kind: string): T => d.cliJson<{ reply: T }>(['send', agent, kind, '--wait']).reply;

function bump(d: Daemon, times: number): number {
  let n = 0;
  for (let i = 0; i < times; i++) n = reply<number>(d, 'saver', 'bump');
  return n;
}

async function journalOf(stateDir: string): Promise<AnyRecord[]> {
  const out: AnyRecord[] = [];
  for await (const r of readRecords(join(stateDir, 'journal'))) out.push(r as AnyRecord);
  return out;
}

const config = [
  'agents:',
  `  peer: { run: ${echo} }`,
  `  saver: { run: ${saver}, args: ["--tell=peer"], pledge: ["send:peer"], after: [peer] }`,
];

test('a checkpoint taken in onShutdown survives `outheis restart` and a full stop and start', { timeout: 120_000 }, async (t) => {
  let d = await startDaemon(config, { waitReady: ['peer', 'saver'] });
  t.after(() => stop(d, 'SIGKILL'));
  assert.equal(reply(d, 'saver', 'restored'), null, 'a first start has nothing to restore');
  assert.equal(bump(d, 3), 3);
  const r = d.cli(['restart', 'saver']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.deepEqual(reply(d, 'saver', 'restored'), { count: 3 }, 'agent.restored after restart');
  assert.equal(reply(d, 'saver', 'count'), 3);
  assert.doesNotMatch(d.out(), /ESHUTDOWN|shutdown hook failed/);
  // The send from the hook was accepted and delivered: peer outlives saver's restart.
  assert.deepEqual(reply<{ body: unknown }[]>(d, 'peer', 'seen').map((s) => s.body), [{ lastCount: 3 }]);

  assert.equal(bump(d, 2), 5);
  await stop(d);
  d = await startDaemon(config, { dir: d.dir, waitReady: ['peer', 'saver'] });
  assert.deepEqual(reply(d, 'saver', 'restored'), { count: 5 }, 'agent.restored after a full stop and start');
  assert.equal(bump(d, 1), 6);
});

test('a checkpoint from onShutdown during a whole-system stop is in the journal before the supervisor exits', { timeout: 120_000 }, async () => {
  const d = await startDaemon(config, { waitReady: ['peer', 'saver'] });
  assert.equal(bump(d, 4), 4);
  await stop(d); // `outheis stop` returns once the supervisor has exited
  const records = await journalOf(d.stateDir);
  const ckpt = records.filter((r): r is RecordOf<'checkpoint'> => r.type === 'checkpoint' && r.agent === 'saver');
  assert.equal(ckpt.length, 1);
  assert.deepEqual(unpackValue(ckpt[0]!.state), { count: 4 });
  const stopRec = records.find((r) => r.type === 'stop');
  const saverExit = records.find((r): r is RecordOf<'exit'> => r.type === 'exit' && r.agent === 'saver');
  assert.ok(stopRec && saverExit, 'the stop and saver\'s exit are journaled');
  assert.ok(ckpt[0]!.seq < saverExit.seq && saverExit.seq < stopRec.seq, `checkpoint ${ckpt[0]!.seq} < exit ${saverExit.seq} < stop ${stopRec.seq}`);
  assert.equal(saverExit.clean, true, 'a graceful exit, within its budget');
  // The message it sent from the hook was accepted, and handled by peer, which stops after saver (reverse start order).
  const told = records.find((r): r is RecordOf<'accept'> => r.type === 'accept' && r.from === 'saver' && r.to === 'peer');
  assert.ok(told, 'the send from onShutdown was journaled');
  assert.deepEqual(unpackValue(told.body), { lastCount: 4 });
  assert.ok(records.some((r) => r.type === 'ack' && r.agent === 'peer' && r.ids.includes(told.id) && r.seq < stopRec.seq), 'and handled before the stop');
  // And `replay` hands it to the next start.
  const replay = d.cli(['replay', '--json']);
  assert.equal(replay.code, 0, replay.stderr);
  assert.deepEqual(JSON.parse(replay.stdout).agents.saver.checkpoint, { count: 4 });
});
