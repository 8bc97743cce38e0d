// Peer bench consumer, a child of bench/jetstream.ts: subscribes, says ready, counts n
// messages and reports when the last arrived. `pull` consumes the parent's durable
// consumer and acks each message (explicit acks: at least once, as outheis delivers);
// `ordered` is JetStream's ack-less ordered consumer; `core` a plain subscription.
import { jetstream } from '@nats-io/jetstream';
import { connectTo, cpuSince, now, type PeerRun } from './spec.js';

const run = JSON.parse(process.argv[2]!) as PeerRun;
const nc = await connectTo(run);
let count = 0;
let cpu0 = process.cpuUsage();

async function finish(): Promise<void> {
  const lastAt = now();
  await nc.flush(); // the acks of the last batch have reached the server
  process.send!({ lastAt, cpu: cpuSince(cpu0) });
  await nc.close();
  process.disconnect();
}

if (run.mode === 'core') {
  nc.subscribe(run.subject, { callback: () => { if (++count === run.n) void finish(); } });
  await nc.flush(); // the subscription is registered before the producer starts
} else {
  const js = jetstream(nc);
  const consumer = run.mode === 'ordered'
    ? await js.consumers.get(run.stream)
    : await js.consumers.get(run.stream, run.consumer);
  await consumer.consume({
    max_messages: run.batch,
    callback: (m) => {
      if (run.mode === 'pull') m.ack();
      if (++count === run.n) void finish();
    },
  });
}
cpu0 = process.cpuUsage(); // from here on it only waits for and takes messages
process.send!({ ready: true });
