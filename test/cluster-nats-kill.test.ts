// nats-server SIGKILLed in the middle of a stream from h1 to h2 and started again on
// the same port and store: both supervisors reconnect by themselves, h1 publishes again
// what was unreceipted (flagged), and every message is handled, repeats flagged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, until } from './helpers/harness.js';
import { startDaemon, stop } from './helpers/daemon.js';
import { assertAllHandled, assertOriginsOnce, clusterLines, clusterOf, handled, hostDir, startNats } from './helpers/nats.js';

const TOTAL = 4000;

test(`nats-server SIGKILLed mid-stream and restarted: all ${TOTAL} messages handled on h2, every repeat flagged, none lost`, async () => {
  let nats = await startNats();
  const { port, store } = nats;
  const dir2 = hostDir();
  const log = join(dir2, 'data/handled.log');
  const h2 = await startDaemon([
    ...clusterLines(nats.url, 'h2', 'NATSKILL'),
    'agents:',
    `  sink: { run: ${fixture('consumer.js')}, args: [${log}, "300"], owns: [data], unveil: { data: rw } }`,
  ], { dir: dir2, waitReady: ['sink'] });
  const h1 = await startDaemon([
    ...clusterLines(nats.url, 'h1', 'NATSKILL', { sink: 'h2' }),
    'agents:',
    `  producer: { run: ${fixture('producer.js')}, args: [sink, "${TOTAL}", "250"], pledge: ["send:sink"] }`,
  ], { dir: hostDir(), waitReady: ['producer'] });
  try {
    await until('h2 to be part way through', () => (handled(log).length >= TOTAL / 4 ? true : undefined), 30_000, 20);
    await nats.stop({ signal: 'SIGKILL', keep: true });
    const before = handled(log).length;
    assert.ok(before < TOTAL, `killed mid-stream (${before} of ${TOTAL} handled before)`);
    await until('h1 to notice', () => (clusterOf(h1).connected ? undefined : true), 15_000, 100);
    nats = await startNats({ port, store });
    await until(() => `every n handled on h2 (${new Set(handled(log).map((h) => h.n)).size} of ${TOTAL})`,
      () => (new Set(handled(log).map((h) => h.n)).size >= TOTAL ? true : undefined), 45_000, 100);
    await until(() => `h1 to owe nothing: ${JSON.stringify(clusterOf(h1).owed)}`, () => (clusterOf(h1).owed.every((o) => o.owed === 0) ? true : undefined), 20_000, 200);
    await stop(h2, 'SIGTERM');
    assert.ok(await assertOriginsOnce(h2.stateDir) >= TOTAL / 2, 'h2 journaled the messages by their origin');
    assertAllHandled(handled(log), TOTAL, { repeats: 'flagged' });
  } finally {
    await stop(h1, 'SIGTERM');
    await stop(h2, 'SIGTERM');
    await nats.stop();
    rmSync(store, { recursive: true, force: true }); // kept across the restart, so ours to remove
  }
});
