// Peer bench producer, a child of bench/jetstream.ts: connects, says ready, and on `go`
// publishes n messages of `size` bytes, timed from just before the first publish.
// `js` publishes to JetStream and keeps at most `window` acks outstanding (what a user
// who wants them but not one round trip per message writes); `core` is fire-and-forget.
import { jetstream, type PubAck } from '@nats-io/jetstream';
import { connectTo, cpuSince, now, type PeerRun } from './spec.js';

const run = JSON.parse(process.argv[2]!) as PeerRun;
const nc = await connectTo(run);
const js = jetstream(nc);
const payload = new Uint8Array(run.size).fill(0x78);

process.once('message', async () => {
  const cpu0 = process.cpuUsage();
  const startedAt = now();
  if (run.mode === 'core') {
    for (let i = 0; i < run.n; i++) nc.publish(run.subject, payload);
  } else {
    const window: Promise<PubAck>[] = new Array(run.window);
    for (let i = 0; i < run.n; i++) {
      const slot = i % run.window;
      if (i >= run.window) await window[slot];
      window[slot] = js.publish(run.subject, payload);
    }
    await Promise.all(window);
  }
  await nc.flush();
  process.send!({ startedAt, cpu: cpuSince(cpu0) });
  await nc.close();
  process.disconnect();
});
process.send!({ ready: true });
