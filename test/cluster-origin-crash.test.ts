// Supervisor h1 (the sending host) SIGKILLed in the middle of a stream to h2 and
// started again on the same state directory. What its journal owed h2 is published
// again, flagged; h2 knows what it has by origin, so nothing it journaled is delivered
// twice unflagged. The producer resumes from its last checkpoint, so some n are sent
// again as new messages (new ids): those are the producer's repeats, not the cluster's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fixture, until } from './helpers/harness.js';
import { startDaemon, stop } from './helpers/daemon.js';
import { assertOriginsOnce, clusterLines, clusterOf, handled, hostDir, startNats } from './helpers/nats.js';

const TOTAL = 4000;

test(`h1 SIGKILLed mid-stream and restarted: all ${TOTAL} n handled on h2, and a message handled twice is flagged the second time`, async () => {
  const nats = await startNats();
  const dir2 = hostDir();
  const log = join(dir2, 'data/handled.log');
  const h2 = await startDaemon([
    ...clusterLines(nats.url, 'h2', 'ORIGINCRASH'),
    'agents:',
    `  sink: { run: ${fixture('consumer.js')}, args: [${log}, "300"], owns: [data], unveil: { data: rw } }`,
  ], { dir: dir2, waitReady: ['sink'] });
  const dir1 = hostDir();
  const h1Config = [
    ...clusterLines(nats.url, 'h1', 'ORIGINCRASH', { sink: 'h2' }),
    'agents:',
    `  producer: { run: ${fixture('producer.js')}, args: [sink, "${TOTAL}", "250"], pledge: ["send:sink"] }`,
  ];
  let h1 = await startDaemon(h1Config, { dir: dir1, waitReady: ['producer'] });
  try {
    await until('h2 to be part way through', () => (handled(log).length >= TOTAL / 4 ? true : undefined), 30_000, 20);
    await stop(h1, 'SIGKILL');
    const before = handled(log).length;
    assert.ok(before < TOTAL, `killed mid-stream (${before} of ${TOTAL} handled before)`);
    h1 = await startDaemon(h1Config, { dir: dir1, waitReady: ['producer'] });
    await until(() => `every n handled on h2 (${new Set(handled(log).map((h) => h.n)).size} of ${TOTAL})`,
      () => (new Set(handled(log).map((h) => h.n)).size >= TOTAL ? true : undefined), 45_000, 100);
    await until(() => `h1 to owe nothing: ${JSON.stringify(clusterOf(h1).owed)}`, () => (clusterOf(h1).owed.every((o) => o.owed === 0) ? true : undefined), 20_000, 200);
    await stop(h2, 'SIGTERM');
    assert.ok(await assertOriginsOnce(h2.stateDir) >= TOTAL / 2, 'h2 journaled the messages by their origin');
    // h2's id is the message: the same id handled again must say so.
    const seen = new Set<number>();
    const unflagged = handled(log).filter((h) => {
      const again = seen.has(h.id);
      seen.add(h.id);
      return again && !h.redelivered;
    });
    assert.deepEqual(unflagged.slice(0, 5), [], 'a message handled again without redelivered');
  } finally {
    await stop(h1, 'SIGTERM');
    await stop(h2, 'SIGTERM');
    await nats.stop();
  }
});
