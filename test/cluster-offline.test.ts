// NATS unreachable when h1 starts: its local routing goes on, its sends to h2's agent
// are accepted into its journal and owed (status says so), and once nats-server is up
// they are delivered, each once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fixture, until } from './helpers/harness.js';
import { startDaemon, stop } from './helpers/daemon.js';
import { assertAllHandled, clusterLines, clusterOf, freePort, handled, hostDir, startNats } from './helpers/nats.js';

const TOTAL = 1000;

test('NATS down at first: local sends are handled, remote ones accepted and owed, then delivered once the server is up', async () => {
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  const dir1 = hostDir();
  const localLog = join(dir1, 'data/local.log');
  // Every second n goes to the local agent (producer.js's `side`), the rest to h2.
  const h1 = await startDaemon([
    ...clusterLines(url, 'h1', 'OFFLINE', { sink: 'h2' }),
    'agents:',
    `  local: { run: ${fixture('consumer.js')}, args: [${localLog}, "0"], owns: [data], unveil: { data: rw } }`,
    `  producer: { run: ${fixture('producer.js')}, args: [sink, "${TOTAL}", "100", local, "2"], pledge: ["send:sink", "send:local"], after: [local] }`,
  ], { dir: dir1, waitReady: ['local', 'producer'] });
  let h2: Awaited<ReturnType<typeof startDaemon>> | undefined;
  let nats: Awaited<ReturnType<typeof startNats>> | undefined;
  try {
    await h1.printed(/producer done at 1000/, 30_000);
    await until('the local half handled', () => (handled(localLog).length >= TOTAL / 2 ? true : undefined), 20_000);
    const c = clusterOf(h1);
    assert.equal(c.connected, false);
    assert.deepEqual(c.owed, [{ agent: 'sink', host: 'h2', owed: TOTAL / 2 }]);
    assert.match(h1.cli(['status']).stdout, /NATS UNREACHABLE/);

    nats = await startNats({ port });
    const dir2 = hostDir();
    const sinkLog = join(dir2, 'data/handled.log');
    h2 = await startDaemon([
      ...clusterLines(url, 'h2', 'OFFLINE'),
      'agents:',
      `  sink: { run: ${fixture('consumer.js')}, args: [${sinkLog}, "0"], owns: [data], unveil: { data: rw } }`,
    ], { dir: dir2, waitReady: ['sink'] });
    await until(() => `h2 to handle the remote half (${handled(sinkLog).length})`, () => (handled(sinkLog).length >= TOTAL / 2 ? true : undefined), 30_000, 100);
    await until(() => `h1 to owe nothing: ${JSON.stringify(clusterOf(h1).owed)}`, () => (clusterOf(h1).owed.every((o) => o.owed === 0) ? true : undefined), 20_000, 200);
    assert.equal(clusterOf(h1).connected, true);
    // Odd n went to h2: renumbered 0.. so the shared check applies.
    const remote = handled(sinkLog).map((h) => ({ ...h, n: (h.n - 1) / 2 }));
    assertAllHandled(remote, TOTAL / 2, { repeats: 'none' }); // never published before: nothing to flag
    assertAllHandled(handled(localLog).map((h) => ({ ...h, n: h.n / 2 })), TOTAL / 2, { repeats: 'none' });
  } finally {
    await stop(h1, 'SIGTERM');
    if (h2) await stop(h2, 'SIGTERM');
    await nats?.stop();
  }
});
