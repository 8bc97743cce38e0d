// Recovery without processes: a journal written, reopened and handed to the router
// and the agents' slots, as `outheis start` does before any agent starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Journal } from '../logs/journal/journal.js';
import { createLogger } from '../logs/logger.js';
import { packValue } from '../protocol/frame.js';
import { AgentSlot, AgentSlots } from '../supervisor/agent-slot.js';
import { parseConfig } from '../supervisor/config/index.js';
import { recover } from '../supervisor/recovery.js';
import { Router } from '../supervisor/router/index.js';

const OPTS = { fsync: 'batch', retainMs: 1e9, maxBytes: 1e12 } as const;

test('recovery puts owed messages back in their mailboxes, hands checkpoints to their agents, and logs how many of each', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'outheis-recovery-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const before = await Journal.open(dir, OPTS);
  before.note({ type: 'start', pid: 1, config: 'outheis.yaml', version: 'test' });
  for (const id of [2, 1]) before.note({ type: 'accept', id, from: 'operator', to: 'a', kind: 'k', qos: 'user', body: packValue(id) });
  before.note({ type: 'checkpoint', agent: 'a', state: packValue({ n: 1 }) });
  before.note({ type: 'checkpoint', agent: 'b', state: packValue({ n: 2 }) });
  // An agent no longer in the config: its checkpoint is counted, and its segment let go.
  before.note({ type: 'checkpoint', agent: 'gone', state: packValue({ n: 3 }) });
  await before.idle();
  await before.close();

  const cfg = parseConfig({ state_dir: join(dir, 'state'), agents: { a: { run: 'a.js' }, b: { run: 'b.js' } } }, join(dir, 'outheis.yaml'));
  const router = new Router({ fault: () => undefined });
  const slots = new AgentSlots(cfg.order.map((name) => new AgentSlot(cfg.agents[name]!, router.add({ name, qos: 'user', pledge: [], mailbox: 10, maxFrame: 1 << 20 }))));
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ destination: new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(JSON.parse(chunk.toString())), done()) }) });
  const journal = await Journal.open(dir, OPTS);
  t.after(() => journal.close());

  const got = recover(journal, { router, slots, log });

  assert.deepEqual(got, { owed: 2, checkpoints: 3, crashed: true });
  assert.deepEqual([...slots.get('a').route.mailbox.all()].map((e) => [e.id, e.redelivered]), [[1, true], [2, true]], 'in id order, flagged redelivered after a crash');
  assert.deepEqual(slots.get('a').checkpoint?.state, Buffer.from(packValue({ n: 1 })));
  assert.deepEqual(slots.get('b').checkpoint?.state, Buffer.from(packValue({ n: 2 })));
  const said = lines.find((l) => l.msg === 'journal recovered');
  assert.ok(said, 'the recovery is logged');
  assert.equal(said.owed, 2);
  assert.equal(said.checkpoints, 3);
  assert.equal(said.previousRun, 'did not stop cleanly');
});
