// The hot path as users run it: a real `outheis start` from a config (sandboxed
// agents, the journal on a file), a producer agent streaming one-way sends to a
// consumer agent, and request/reply between them. Each figure beside its baseline
// from the same run: direct Node IPC (a forked child, bench/core.ts), and for the
// fsync-bound round trip the disk's own fdatasync, measured on the state dir's
// filesystem. The supervisor's CPU is read from /proc/<pid>/stat around the stream.
import { closeSync, fdatasyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { directOneWay, directRoundTrip } from './core.js';
import { cpuMs } from './lib.js';
import { fmt, percentile, sleep, type Row } from './lib.js';
import { benchAgent, startSupervisor, type Supervisor } from './supervisor.js';

type Fsync = 'batch' | 'interval' | 'none';

/** A supervisor with the bench's producer and consumer, journal policy `fsync`. */
export const startPair = (fsync: Fsync): Promise<Supervisor> => startSupervisor({
  journal: { fsync },
  agents: {
    producer: { run: benchAgent('producer.js'), pledge: ['send:consumer'] },
    consumer: { run: benchAgent('consumer.js') },
  },
}, 2);

/** What `stream` and `roundTrips` drive: the producer's and the consumer's supervisor may differ (bench/cluster.ts). */
export type Pair = Pick<Supervisor, 'pid' | 'send'>;

export interface Stream { rate: number; cpuUsPerMsg: number; wallUsPerMsg: number }

/** One stream of `n` one-way sends: the consumer's rate, and the supervisor's CPU per message over it. */
export async function stream(pair: Pair, n: number, size: number): Promise<Stream> {
  await pair.send('consumer', 'reset');
  const c0 = cpuMs(pair.pid);
  const t0 = performance.now();
  const { startedAt } = await pair.send<{ startedAt: number }>('producer', 'flood', { n, size });
  for (;;) {
    const s = await pair.send<{ count: number; lastAt: number }>('consumer', 'stats');
    if (s.count >= n) {
      const cpu = cpuMs(pair.pid) - c0;
      const wall = performance.now() - t0;
      return { rate: n / ((s.lastAt - startedAt) / 1000), cpuUsPerMsg: (cpu * 1000) / n, wallUsPerMsg: (wall * 1000) / n };
    }
    await sleep(20);
  }
}

/** Sorted request/reply latencies (ms) from the producer to the consumer, after a warm-up. */
export async function roundTrips(pair: Pair, n: number, size: number): Promise<number[]> {
  await pair.send('producer', 'rr', { n: Math.min(1000, n), size });
  return (await pair.send<number[]>('producer', 'rr', { n, size })).sort((a, b) => a - b);
}

/** p50 of an append-and-fdatasync on the filesystem holding `dir` (ms): what one group commit waits for at the least. */
function fdatasyncP50(dir: string, n = 300): number {
  const path = join(dir, 'fdatasync-probe');
  const fd = openSync(path, 'a');
  const rec = Buffer.alloc(200, 1);
  const lat: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      writeSync(fd, rec);
      const t = performance.now();
      fdatasyncSync(fd);
      lat.push(performance.now() - t);
    }
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
  return percentile(lat.sort((a, b) => a - b), 50);
}

/** Routed one-way msgs/s and the supervisor's CPU per message through a real `outheis start` (journal on, fsync batch): for peer rows (bench/jetstream.ts). */
export async function routedOneWayReal(n: number, size: number): Promise<Stream> {
  const pair = await startPair('batch');
  try {
    await stream(pair, Math.min(20_000, n), size);
    return await stream(pair, n, size);
  } finally {
    await pair.stop();
  }
}

export async function routeRows(n: number, rr: number, size: number): Promise<Row[]> {
  const batch = await startPair('batch');
  let one: Stream, rrBatch: number[], disk: number;
  try {
    await stream(batch, Math.min(20_000, n), size);
    one = await stream(batch, n, size);
    rrBatch = await roundTrips(batch, rr, size);
    disk = fdatasyncP50(batch.stateDir);
  } finally {
    await batch.stop();
  }
  const none = await startPair('none');
  let unsynced: Stream;
  try {
    await stream(none, Math.min(20_000, n), size);
    unsynced = await stream(none, n, size);
  } finally {
    await none.stop();
  }
  const interval = await startPair('interval');
  let rrInterval: number[];
  try {
    rrInterval = await roundTrips(interval, rr, size);
  } finally {
    await interval.stop();
  }
  const direct = await directOneWay(n, size);
  const directRtt = percentile(await directRoundTrip(rr, size), 50);
  const us = (x: number) => `${x.toFixed(2)} µs`;
  const p50b = percentile(rrBatch, 50);
  const p50i = percentile(rrInterval, 50);
  const bound = directRtt + 2 * disk;
  const size_ = `${n.toLocaleString('en-US')} x ${size} B`;
  return [
    { metric: `supervisor CPU per routed message, real start, fsync batch (${size_})`, ours: us(one.cpuUsPerMsg), base: `${us(one.wallUsPerMsg)} wall per msg`, ratio: `${((one.cpuUsPerMsg / one.wallUsPerMsg) * 100).toFixed(0)}% of a core`, target: '<= 2.5 µs', pass: one.cpuUsPerMsg <= 2.5 },
    { metric: 'the same with fsync none (what the fsyncs add)', ours: us(one.cpuUsPerMsg), base: `${us(unsynced.cpuUsPerMsg)} fsync none`, ratio: fmt.x(one.cpuUsPerMsg / unsynced.cpuUsPerMsg), target: 'reported', pass: undefined },
    { metric: `routed msgs/s one-way, real start, fsync batch (${size_})`, ours: fmt.rate(one.rate), base: `${fmt.rate(direct)} direct IPC`, ratio: fmt.x(one.rate / direct), target: '>= 0.7x', pass: one.rate / direct >= 0.7 },
    { metric: 'the same, fsync none', ours: fmt.rate(unsynced.rate), base: `${fmt.rate(direct)} direct IPC`, ratio: fmt.x(unsynced.rate / direct), target: 'reported', pass: undefined },
    { metric: `request/reply p50, real start, fsync interval (${rr} x ${size} B)`, ours: fmt.ms(p50i), base: `${fmt.ms(directRtt)} direct IPC`, ratio: fmt.x(p50i / directRtt), target: '<= 2x', pass: p50i / directRtt <= 2 },
    { metric: 'request/reply p99, fsync interval', ours: fmt.ms(percentile(rrInterval, 99)), base: '-', ratio: '-', target: 'reported', pass: undefined },
    { metric: `request/reply p50, real start, fsync batch (fdatasync p50 ${fmt.ms(disk)} on the state dir's disk)`, ours: fmt.ms(p50b), base: `${fmt.ms(bound)} direct + 2 fdatasync`, ratio: fmt.x(p50b / bound), target: '<= 1.0x', pass: p50b <= bound },
  ];
}
