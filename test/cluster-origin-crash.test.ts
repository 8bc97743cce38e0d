// Supervisor h1 (the sending host) SIGKILLed in the middle of a stream to h2 and
// started again on the same state directory. What its journal owed h2 is published
// again, flagged; h2 knows what it has by origin, so nothing it journaled is delivered
// twice unflagged. The producer resumes from its last checkpoint, so some n are sent
// again as new messages (new ids): those are the producer's repeats, not the cluster's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stop } from './helpers/daemon.js';
import { assertMidStream, assertJournaledOnce, drained, handled, partWay, startNats, streamPair } from './helpers/nats.js';

const TOTAL = 20_000;

test(`h1 SIGKILLed mid-stream and restarted: all ${TOTAL} n handled on h2, and a message handled twice is flagged the second time`, async () => {
  const nats = await startNats();
  const p = await streamPair(nats, 'ORIGINCRASH', TOTAL);
  try {
    await partWay(p);
    await stop(p.h1, 'SIGKILL');
    assertMidStream(p);
    await p.restart('h1');
    await drained(p);
    await assertJournaledOnce(p);
    // h2's id is the message: the same id handled again must say so.
    const seen = new Set<number>();
    const unflagged = handled(p.log).filter((h) => {
      const again = seen.has(h.id);
      seen.add(h.id);
      return again && !h.redelivered;
    });
    assert.deepEqual(unflagged.slice(0, 5), [], 'a message handled again without redelivered');
  } finally {
    await p.stop();
    await nats.stop();
  }
});
