// The peer row (issue 14, item 4): the same one-way stream outheis's routed-throughput
// row sends, through NATS JetStream on loopback with file storage, from a producer
// process to a consumer process, timed from the first publish to the last receipt as
// bench/core.ts times outheis. Beside it, nats-server's own CPU per message from
// /proc/<pid>/stat deltas, with JetStream and as plain NATS pub/sub.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { SEND_WINDOW } from '../protocol/constants.js';
import { cpuMs, fmt, type Row } from './lib.js';
import { natsServerPath, startNatsServer, type NatsServer } from './nats/server.js';
import type { PeerRun } from './nats/spec.js';

export interface PeerRate {
  /** Messages per second, first publish to last receipt. */
  rate: number;
  /** nats-server CPU (user + system) per message over the stream, µs. */
  cpuPerMsg: number;
  /** The Node clients' CPU per message, µs: where the rest of the time goes. */
  producerCpuPerMsg: number;
  consumerCpuPerMsg: number;
}

/** A stream that never finishes (a lost core NATS message, a wedged client) fails the row instead of hanging the bench. */
const DEADLINE_MS = 120_000;

function start(file: string, run: PeerRun): ChildProcess {
  return fork(fileURLToPath(new URL(`./nats/${file}`, import.meta.url)), [JSON.stringify(run)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

/** The child's next IPC message; an exit or the deadline first is an error naming the child. */
function next<T>(proc: ChildProcess, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${what}: no answer within ${DEADLINE_MS} ms`)), DEADLINE_MS);
    const onMessage = (m: T) => done(undefined, m);
    const onExit = (code: number | null) => done(new Error(`${what} exited (${code}) before answering`));
    const done = (err?: Error, m?: T) => {
      clearTimeout(timer);
      proc.off('message', onMessage).off('exit', onExit);
      if (err) reject(err);
      else resolve(m!);
    };
    proc.once('message', onMessage).once('exit', onExit);
  });
}

/** One timed stream of run.n messages; both clients are connected and subscribed before the clock starts. */
async function timedStream(server: NatsServer, run: PeerRun): Promise<PeerRate> {
  const procs: ChildProcess[] = [];
  try {
    const consumer = start('consumer.js', run);
    procs.push(consumer);
    await next(consumer, 'consumer');
    const producer = start('producer.js', run);
    procs.push(producer);
    await next(producer, 'producer');
    const finished = Promise.all([next<{ startedAt: number; cpu: number }>(producer, 'producer'), next<{ lastAt: number; cpu: number }>(consumer, 'consumer')]);
    const c0 = cpuMs(server.pid);
    producer.send('go');
    const [sent, received] = await finished;
    const cpu = cpuMs(server.pid) - c0;
    return {
      rate: run.n / ((received.lastAt - sent.startedAt) / 1000),
      cpuPerMsg: (cpu * 1000) / run.n,
      producerCpuPerMsg: sent.cpu / run.n,
      consumerCpuPerMsg: received.cpu / run.n,
    };
  } finally {
    for (const p of procs) p.kill();
  }
}

/** A warm-up stream (as bench/core.ts runs one), then the measured one, each through a stream of its own. */
async function measure(mode: PeerRun['mode'], n: number, size: number): Promise<PeerRate> {
  const bin = natsServerPath();
  if (!bin) throw new Error('nats-server is not installed');
  const server = await startNatsServer(bin);
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ servers: server.url });
    const jsm = await jetstreamManager(nc);
    const once = async (name: string, count: number) => {
      // A pull batch of 1,000 rather than the client's 100: no different in rate here, fewer pull requests.
      const run: PeerRun = { url: server.url, mode, stream: name, consumer: 'bench', subject: `bench.${name}`, n: count, size, window: SEND_WINDOW, batch: 1000 };
      if (mode === 'core') return timedStream(server, run);
      await jsm.streams.add({ name, subjects: [run.subject], storage: StorageType.File });
      if (mode === 'pull') await jsm.consumers.add(name, { durable_name: run.consumer, ack_policy: AckPolicy.Explicit });
      try {
        return await timedStream(server, run);
      } finally {
        await jsm.streams.delete(name);
      }
    };
    await once('warmup', Math.min(20000, n));
    return await once('measured', n);
  } finally {
    await nc?.close();
    await server.stop();
  }
}

/** JetStream, file storage: publish with acks (a window of SEND_WINDOW, as outheis's SDK allows), a pull consumer acking each message. */
export const jetstreamRate = (n: number, size: number): Promise<PeerRate> => measure('pull', n, size);

/** The same with JetStream's ordered consumer (no acks on the consuming side). */
export const jetstreamOrderedRate = (n: number, size: number): Promise<PeerRate> => measure('ordered', n, size);

/** Core NATS pub/sub, no JetStream: at most once, nothing stored. */
export const coreNatsRate = (n: number, size: number): Promise<PeerRate> => measure('core', n, size);

/** outheis's side of the peer rows: its routed rate, and the supervisor's CPU per message (µs). */
export interface OutheisSide { rate: number; cpuPerMsg?: number }

/**
 * outheis's routed one-way rate against JetStream's, and nats-server's CPU per
 * message beside the supervisor's. Without nats-server the rows are skipped, saying
 * so (outheis's side is then not measured either: it is passed as a function).
 */
export async function peerRows(outheis: () => Promise<OutheisSide>, n: number, size: number): Promise<Row[]> {
  if (!natsServerPath()) {
    console.log('peer rows skipped: nats-server is not installed (Debian: apt-get install nats-server)\n');
    return [];
  }
  const { rate: ours, cpuPerMsg: sup } = await outheis();
  const js = await jetstreamRate(n, size);
  const ordered = await jetstreamOrderedRate(n, size);
  const core = await coreNatsRate(n, size);
  const cpuRow = (what: string, peer: PeerRate): Row => ({
    metric: `CPU per message: supervisor vs nats-server, ${what}`,
    ours: sup === undefined ? '-' : fmt.us(sup),
    base: `${fmt.us(peer.cpuPerMsg)} nats-server`,
    ratio: sup === undefined ? '-' : fmt.x(sup / peer.cpuPerMsg),
    target: 'reported',
    pass: undefined,
  });
  return [
    { metric: `outheis routed msgs/s (real start, journal batch) vs JetStream (file storage), ${n.toLocaleString('en-US')} x ${size} B`, ours: fmt.rate(ours), base: `${fmt.rate(js.rate)} JetStream`, ratio: fmt.x(ours / js.rate), target: 'reported', pass: undefined },
    { metric: 'the same against JetStream\'s ordered consumer (no consumer acks)', ours: fmt.rate(ours), base: `${fmt.rate(ordered.rate)} JetStream`, ratio: fmt.x(ours / ordered.rate), target: 'reported', pass: undefined },
    { metric: 'the same against core NATS pub/sub (no JetStream, at most once)', ours: fmt.rate(ours), base: `${fmt.rate(core.rate)} core NATS`, ratio: fmt.x(ours / core.rate), target: 'reported', pass: undefined },
    cpuRow('JetStream (file storage)', js),
    { metric: 'JetStream\'s Node clients\' CPU per message (producer + consumer)', ours: '-', base: `${fmt.us(js.producerCpuPerMsg)} + ${fmt.us(js.consumerCpuPerMsg)}`, ratio: '-', target: 'reported', pass: undefined },
    cpuRow('core NATS', core),
  ];
}
