// h2 remembers h1's messages by origin to take a copy sent again as a duplicate. That
// memory is bounded: every message h1 publishes carries h1's low-water mark for h2
// (nothing below it is owed there any more), and h2 forgets the origins below it. A
// copy of one still remembered is still receipted, not accepted twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, headers } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { packValue } from '../protocol/frame.js';
import { until } from './helpers/harness.js';
import { stop } from './helpers/daemon.js';
import { assertAllHandled, assertOriginsOnce, clusterOf, drained, handled, startNats, streamPair } from './helpers/nats.js';

const TOTAL = 6000;
const STREAM = 'DEDUP';

test(`h2's memory of h1's messages stays bounded over ${TOTAL} messages, and a copy of one it remembers is still a duplicate`, async () => {
  const nats = await startNats();
  const p = await streamPair(nats, STREAM, TOTAL, { sinkMs: 0 });
  const nc = await connect({ servers: nats.url });
  try {
    await drained(p);
    assertAllHandled(handled(p.log), TOTAL, { repeats: 'none' });
    // A message from h1 carries its mark: once h1 owes nothing, one more lets h2 forget the rest.
    // (n -1: the sink logs it, and handled() leaves it out.)
    await until(() => `h2 to forget what h1 no longer owes (remembers ${clusterOf(p.h2).dedup})`, () => {
      p.h1.cli(['send', 'sink', 'item', '{"n":-1}']);
      // Far below TOTAL; above the nudges of the last 10 s, which h2 still holds (receiver.ts, HOLD_MS): at most 34 at one per 300 ms.
      return (clusterOf(p.h2).dedup ?? Infinity) <= 50 ? true : undefined;
    }, 45_000, 300);

    // The newest message of h1 that h2 journaled is remembered: a copy of it published again is receipted, not accepted.
    const jsm = await jetstreamManager(nc);
    const settledOnH2 = async (): Promise<true | undefined> => {
      const ci = await jsm.consumers.info(STREAM, 'h2');
      return ci.num_pending === 0 && ci.num_ack_pending === 0 ? true : undefined;
    };
    // The last nudge too: h1 owes nothing, so no later mark makes h2 forget the newest.
    await until(() => `h1 to owe nothing: ${JSON.stringify(clusterOf(p.h1).owed)}`, () => (clusterOf(p.h1).owed.every((o) => o.owed === 0) ? true : undefined), 20_000, 100);
    await until('h2 to have taken and acked everything', settledOnH2, 15_000, 100);
    const accepts = p.h2.cli(['journal', '--kind', 'accept', '--json', '-n', '20']).stdout.trimEnd().split('\n')
      .map((l) => JSON.parse(l) as { origin?: { host: string; id: number } });
    const newest = Math.max(...accepts.flatMap((r) => (r.origin?.host === 'h1' ? [r.origin.id] : [])));
    const h = headers();
    for (const [k, v] of Object.entries({ 'Outheis-From': 'operator', 'Outheis-Host': 'h1', 'Outheis-Id': String(newest), 'Outheis-Kind': 'item', 'Outheis-Qos': 'interactive', 'Outheis-Redelivered': '1' })) h.set(k, v);
    await jetstream(nc).publish('outheis.h2.sink', packValue({ n: -2 }), { headers: h, msgID: `again-${newest}` });
    await until('h2 to take the copy', settledOnH2, 15_000, 100);
    await stop(p.h2, 'SIGTERM');
    // Each origin under one local id only: the copy was a duplicate.
    assert.ok(await assertOriginsOnce(p.h2.stateDir) >= TOTAL);
  } finally {
    await nc.close();
    await p.stop();
    await nats.stop();
  }
});
