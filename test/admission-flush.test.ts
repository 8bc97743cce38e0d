// An interactive reply leaves the agent when its handler finishes, not at the end of
// the slice of handlers it was started in (workers/inbox.ts): the background handler
// started right after it must not hold it. Structural, no clock: the background
// handler blocks until the test has the interactive reply, which it can only have if
// the reply was written before that handler started.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, startSupervisor, tempDir, until } from './helpers/harness.js';

test('an interactive reply is written at once, ahead of the background handler started after it in the same slice', async () => {
  const flags = tempDir('outheis-flush-');
  chmodSync(flags, 0o755); // the agent runs under a uid of its own
  const h = startSupervisor({ agents: { svc: { run: fixture('prio-flush.js'), args: [flags], unveil: { [flags]: 'r' } } } });
  try {
    await h.waitFor((e) => e.event === 'ready' && e.agent === 'svc');
    const op = h.sup.operator;
    const stalled = op.send('svc', 'stall', {}, { wait: true, qos: 'user' });
    // Both arrive while the agent is stalled, so that it reads them in one go and starts them in one slice.
    const ask = op.send('svc', 'ask', {}, { wait: true, qos: 'interactive' });
    const held = op.send('svc', 'hold', {}, { wait: true, qos: 'background' });
    const inflight = h.sup.router.routes.get('svc')!.mailbox.inflight;
    await until(() => `3 delivered to svc, have ${inflight.size}`, () => (inflight.size === 3 ? true : undefined), 15000);
    const order: string[] = [];
    void ask.then(() => {
      order.push('ask');
      writeFileSync(join(flags, 'seen'), '');
    });
    void held.then(() => order.push('hold'));
    writeFileSync(join(flags, 'go'), '');
    assert.deepEqual(await stalled, { saw: true }, 'the stall ended on its flag');
    assert.deepEqual(await held, { saw: true }, 'the background handler saw the interactive reply arrive while it ran');
    assert.deepEqual(order, ['ask', 'hold']);
  } finally {
    await h.stop();
  }
});
