// nats-server SIGKILLed in the middle of a stream from h1 to h2 and started again on
// the same port and store: both supervisors reconnect by themselves, h1 publishes again
// what was unreceipted (flagged), and every message is handled, repeats flagged.
import { test } from 'node:test';
import { rmSync } from 'node:fs';
import { until } from './helpers/harness.js';
import { assertAllHandled, assertMidStream, assertJournaledOnce, clusterOf, drained, handled, partWay, startNats, streamPair } from './helpers/nats.js';

const TOTAL = 20_000;

test(`nats-server SIGKILLed mid-stream and restarted: all ${TOTAL} messages handled on h2, every repeat flagged, none lost`, async () => {
  let nats = await startNats();
  const { port, store } = nats;
  const p = await streamPair(nats, 'NATSKILL', TOTAL);
  try {
    await partWay(p);
    await nats.stop({ signal: 'SIGKILL', keep: true });
    assertMidStream(p);
    await until('h1 to notice', () => (clusterOf(p.h1).connected ? undefined : true), 15_000, 100);
    nats = await startNats({ port, store });
    await drained(p);
    await assertJournaledOnce(p);
    assertAllHandled(handled(p.log), TOTAL, { repeats: 'flagged' });
  } finally {
    await p.stop();
    await nats.stop();
    rmSync(store, { recursive: true, force: true }); // kept across the restart, so ours to remove
  }
});
