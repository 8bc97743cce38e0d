// `outheis reload` with a changed `cluster:` section: the link, the stream's consumer
// and the remote agents' routes are made at start, so the change is listed as not
// applied (it takes effect at the next start) and the running cluster stays. NATS need
// not be reachable for any of it: a supervisor with `cluster:` starts without it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture } from './helpers/harness.js';
import { startDaemon, stop } from './helpers/daemon.js';
import { reload, rewrite } from './helpers/reload.js';
import { clusterLines, clusterOf, freePort, hostDir } from './helpers/nats.js';

test('a changed cluster: is listed as not applied and the running one stays; an agent the running cluster routes elsewhere cannot start here', async () => {
  const url = `nats://127.0.0.1:${await freePort()}`; // nothing listens: the reload must not depend on NATS
  const agents = ['agents:', `  notes: { run: ${fixture('echo.js')}, pledge: ["send:archive"] }`];
  const d = await startDaemon([...clusterLines(url, 'h1', 'RELOAD', { archive: 'h2' }), ...agents], { dir: hostDir(), waitReady: ['notes'] });
  try {
    const other = `nats://127.0.0.1:${await freePort()}`;
    rewrite(d, [...clusterLines(other, 'h1', 'RELOAD', { archive: 'h3' }, ['owed_max: 10']), ...agents]);
    const r = reload(d);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.result.ok, true);
    assert.deepEqual(r.result.notApplied.map((s) => s.key).sort(), ['cluster.agents', 'cluster.nats', 'cluster.owed_max']);
    assert.deepEqual(r.result.notApplied.find((s) => s.key === 'cluster.nats'), { key: 'cluster.nats', running: url, file: other });
    assert.deepEqual(r.result.restarted, [], 'nothing restarts for it');
    // Still routed as it runs: archive on h2.
    assert.deepEqual(clusterOf(d).owed.map((o) => [o.agent, o.host]), [['archive', 'h2']]);
    assert.match(d.cli(['reload']).stdout + d.cli(['reload']).stderr, /cluster\.agents/, 'the text output names it too');

    // Moving archive here while the running cluster routes it to h2: refused at its key, nothing changes.
    rewrite(d, ['cluster:', `  nats: ${url}`, '  host: h1', '  stream: RELOAD', ...agents, `  archive: { run: ${fixture('echo.js')} }`]);
    const moved = reload(d);
    assert.equal(moved.result.ok, false);
    assert.deepEqual(moved.result.issues.map((i) => i.path), ['agents.archive']);
    assert.match(moved.result.issues[0]!.message, /host "h2".*next start/);
    assert.deepEqual(clusterOf(d).owed.map((o) => [o.agent, o.host]), [['archive', 'h2']]);
  } finally {
    await stop(d, 'SIGTERM');
  }
});
