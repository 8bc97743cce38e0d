// Supervisor h2 (the receiving host) SIGKILLed in the middle of a stream from h1 and
// started again on the same state directory, and h2's agent SIGKILLed again and again:
// every message is handled, any repeat is flagged redelivered, none is lost. h2's
// journal's accepts remember which of h1's messages it has (by their origin), so one
// taken again from the stream is receipted, not accepted twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { until } from './helpers/harness.js';
import { agentOf, stop } from './helpers/daemon.js';
import { assertAllHandled, assertMidStream, assertJournaledOnce, drained, handled, partWay, startNats, streamPair } from './helpers/nats.js';

const TOTAL = 20_000;

test(`h2 SIGKILLed mid-stream and restarted: all ${TOTAL} messages from h1 handled, every repeat flagged, none lost`, async () => {
  const nats = await startNats();
  const p = await streamPair(nats, 'CRASH', TOTAL);
  try {
    await partWay(p);
    await stop(p.h2, 'SIGKILL');
    assertMidStream(p);
    await p.restart('h2');
    await drained(p);
    await assertJournaledOnce(p);
    assertAllHandled(handled(p.log), TOTAL, { repeats: 'flagged' });
  } finally {
    await p.stop();
    await nats.stop();
  }
});

test(`the agent on h2 SIGKILLed three times mid-stream: all ${TOTAL} messages from h1 handled, every repeat flagged, none lost`, async () => {
  const nats = await startNats();
  const p = await streamPair(nats, 'AGENTKILL', TOTAL, { sinkMs: 300, h2Lines: ['supervisor: { intensity: 100, period: 1s, backoff: { initial: 10ms, max: 20ms } }'] });
  try {
    for (let k = 1; k <= 3; k++) {
      await partWay(p, k / 5);
      const { pid } = agentOf(p.h2, 'sink');
      assert.ok(pid, 'sink runs');
      assertMidStream(p);
      process.kill(pid, 'SIGKILL');
      await until('sink to run again', () => { const a = agentOf(p.h2, 'sink'); return a.state === 'running' && a.pid !== pid ? true : undefined; }, 15_000, 50);
    }
    await drained(p);
    assertAllHandled(handled(p.log), TOTAL, { repeats: 'flagged' });
    assert.ok(handled(p.log).some((h) => h.redelivered), 'the kills caught messages in flight');
  } finally {
    await p.stop();
    await nats.stop();
  }
});
