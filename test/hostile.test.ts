// Bad input from a child never takes the supervisor down: the offender is killed
// and restarted by policy, and everyone else carries on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, startSupervisor, waitCount } from './helpers/harness.js';

const cases: [mode: string, reason: RegExp][] = [
  ['garbage', /bad frame|invalid header|not msgpack/],
  ['oversize', /exceeds the limit/],
  ['badheader', /invalid header/],
  ['notmsgpack', /not msgpack|invalid header/],
  ['forged', /invalid header/],
  ['flood', /flooding/],
];

for (const [mode, reason] of cases) {
  test(`hostile agent (${mode}): killed and restarted, the supervisor and the others carry on`, async () => {
    const h = startSupervisor({
      supervisor: { intensity: 20, period: '10s', backoff: { initial: '20ms', max: '100ms' } },
      agents: {
        hostile: { run: fixture('hostile.js'), args: [mode], pledge: ['send:victim'], heartbeat: '0' },
        // Never ready, tiny mailbox: a flood cannot drain anywhere.
        victim: { run: fixture('echo.js'), args: ['--never-ready'], start_timeout: '60s', limits: { mailbox: 100 }, heartbeat: '0' },
        bystander: { run: fixture('echo.js'), heartbeat: '0' },
      },
    });
    try {
      const fault = await h.waitFor((e) => e.event === 'fault' && e.agent === 'hostile', 15000, 'a fault');
      assert.match(String(fault.data), reason);
      await waitCount(h, (e) => e.event === 'spawn' && e.agent === 'hostile', 2);
      await h.waitFor((e) => e.event === 'ready' && e.agent === 'bystander');
      assert.deepEqual(await h.sup.operator.send('bystander', 'echo', { still: 'here' }, { wait: true }), { still: 'here' });
      assert.equal(h.count('fault', 'bystander'), 0);
      assert.equal(h.count('exit', 'bystander'), 0);
      assert.equal(h.count('fault', 'victim'), 0);
    } finally {
      assert.equal(await h.stop(), 0);
    }
  });
}
