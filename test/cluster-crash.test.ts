// Supervisor h2 (the receiving host) SIGKILLed in the middle of a stream from h1 and
// started again on the same state directory: every message is handled, any repeat is
// flagged redelivered, none is lost. Its journal's accepts remember which of h1's
// messages it has (by their origin), so one taken again from the stream is receipted,
// not accepted twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fixture, until } from './helpers/harness.js';
import { agentOf, startDaemon, stop } from './helpers/daemon.js';
import { assertAllHandled, assertOriginsOnce, clusterLines, clusterOf, handled, hostDir, startNats } from './helpers/nats.js';

const TOTAL = 4000;

test(`h2 SIGKILLed mid-stream and restarted: all ${TOTAL} messages from h1 handled, every repeat flagged, none lost`, async () => {
  const nats = await startNats();
  const dir2 = hostDir();
  const log = join(dir2, 'data/handled.log');
  const h2Config = [
    ...clusterLines(nats.url, 'h2', 'CRASH'),
    'agents:',
    `  sink: { run: ${fixture('consumer.js')}, args: [${log}, "300"], owns: [data], unveil: { data: rw } }`,
  ];
  let h2 = await startDaemon(h2Config, { dir: dir2, waitReady: ['sink'] });
  const h1 = await startDaemon([
    ...clusterLines(nats.url, 'h1', 'CRASH', { sink: 'h2' }),
    'agents:',
    `  producer: { run: ${fixture('producer.js')}, args: [sink, "${TOTAL}", "250"], pledge: ["send:sink"] }`,
  ], { dir: hostDir(), waitReady: ['producer'] });
  try {
    await until('h2 to be part way through', () => (handled(log).length >= TOTAL / 4 ? true : undefined), 30_000, 20);
    await stop(h2, 'SIGKILL');
    const before = handled(log).length;
    assert.ok(before < TOTAL, `killed mid-stream (${before} of ${TOTAL} handled before)`);
    h2 = await startDaemon(h2Config, { dir: dir2, waitReady: ['sink'] });
    await until(() => `every n handled on h2 (${new Set(handled(log).map((h) => h.n)).size} of ${TOTAL}; ${before} before the kill)`,
      () => (new Set(handled(log).map((h) => h.n)).size >= TOTAL ? true : undefined), 45_000, 100);
    await until(() => `h1 to owe nothing: ${JSON.stringify(clusterOf(h1).owed)}`, () => (clusterOf(h1).owed.every((o) => o.owed === 0) ? true : undefined), 20_000, 200);
    await stop(h2, 'SIGTERM');
    assert.ok(await assertOriginsOnce(h2.stateDir) >= TOTAL / 2, 'h2 journaled the messages by their origin');
    assertAllHandled(handled(log), TOTAL, { repeats: 'flagged' });
  } finally {
    await stop(h1, 'SIGTERM');
    await stop(h2, 'SIGTERM');
    await nats.stop();
  }
});

test(`the agent on h2 SIGKILLed three times mid-stream: all ${TOTAL} messages from h1 handled, every repeat flagged, none lost`, async () => {
  const nats = await startNats();
  const dir2 = hostDir();
  const log = join(dir2, 'data/handled.log');
  const h2 = await startDaemon([
    ...clusterLines(nats.url, 'h2', 'AGENTKILL'),
    'supervisor: { intensity: 100, period: 1s, backoff: { initial: 10ms, max: 20ms } }',
    'agents:',
    `  sink: { run: ${fixture('consumer.js')}, args: [${log}, "1500"], owns: [data], unveil: { data: rw } }`,
  ], { dir: dir2, waitReady: ['sink'] });
  const h1 = await startDaemon([
    ...clusterLines(nats.url, 'h1', 'AGENTKILL', { sink: 'h2' }),
    'agents:',
    `  producer: { run: ${fixture('producer.js')}, args: [sink, "${TOTAL}", "250"], pledge: ["send:sink"] }`,
  ], { dir: hostDir(), waitReady: ['producer'] });
  try {
    for (let k = 1; k <= 3; k++) {
      const at = (k * TOTAL) / 5;
      await until(`h2's agent past ${at}`, () => (handled(log).length >= at ? true : undefined), 30_000, 20);
      const { pid } = agentOf(h2, 'sink');
      assert.ok(pid, 'sink runs');
      assert.ok(handled(log).length < TOTAL, 'killed mid-stream');
      process.kill(pid, 'SIGKILL');
      await until('sink to run again', () => { const a = agentOf(h2, 'sink'); return a.state === 'running' && a.pid !== pid ? true : undefined; }, 15_000, 50);
    }
    await until(() => `every n handled on h2 (${new Set(handled(log).map((h) => h.n)).size} of ${TOTAL})`,
      () => (new Set(handled(log).map((h) => h.n)).size >= TOTAL ? true : undefined), 45_000, 100);
    await until(() => `h1 to owe nothing: ${JSON.stringify(clusterOf(h1).owed)}`, () => (clusterOf(h1).owed.every((o) => o.owed === 0) ? true : undefined), 20_000, 200);
    assertAllHandled(handled(log), TOTAL, { repeats: 'flagged' });
    assert.ok(handled(log).some((h) => h.redelivered), 'the kills caught messages in flight');
  } finally {
    await stop(h1, 'SIGTERM');
    await stop(h2, 'SIGTERM');
    await nats.stop();
  }
});
