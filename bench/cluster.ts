// Several hosts (issue 16, "Bench"): two real `outheis start` supervisors, h1 and h2,
// each with its own config and state dir (journal on, fsync batch, sandboxed agents),
// meeting on a real nats-server with JetStream. The producer on h1 streams to the
// consumer on h2, addressed by its bare name (`cluster.agents: { consumer: h2 }`), and
// asks it for round trips. Each figure beside its baseline from the same run: the same
// stream and round trips on one supervisor (bench/route.ts), and the same messages
// published to JetStream directly with the same client (bench/jetstream.ts).
// Each supervisor's CPU, and nats-server's, from /proc/<pid>/stat deltas.
import { cpuMs, fmt, percentile, sleep, type Row } from './lib.js';
import { jetstreamRate } from './jetstream.js';
import { natsServerPath, startNatsServer, type NatsServer } from './nats/server.js';
import { roundTrips, startPair, stream, type Stream } from './route.js';
import { benchAgent, startSupervisor, type Supervisor } from './supervisor.js';

/** A stream that never finishes (a wedged link) fails the bench with what it saw, instead of hanging it. */
const DEADLINE_MS = 600_000;

/** Polls `probe` until it answers; past `ms`, an error saying what was awaited. */
async function until<T>(what: () => string, probe: () => Promise<T | undefined>, ms: number, every = 20): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`cluster bench: no ${what()} within ${ms} ms`);
    await sleep(every);
  }
}

interface Hosts { h1: Supervisor; h2: Supervisor }

/** h2 (the consumer) first, so its durable consumer exists before h1 publishes; then h1 (the producer), both connected to NATS. */
async function startHosts(url: string): Promise<Hosts> {
  const base = (host: string, agents: Record<string, string> = {}) => ({ journal: { fsync: 'batch' }, cluster: { nats: url, host, agents } });
  const h2 = await startSupervisor({ ...base('h2'), agents: { consumer: { run: benchAgent('consumer.js') } } }, 1, 'cluster-h2');
  let h1: Supervisor;
  try {
    h1 = await startSupervisor({ ...base('h1', { consumer: 'h2' }), agents: { producer: { run: benchAgent('producer.js'), pledge: ['send:consumer'] } } }, 1, 'cluster-h1');
  } catch (err) {
    await h2.stop();
    throw err;
  }
  const hosts = { h1, h2 };
  try {
    await until(() => 'connection to NATS on both hosts', async () => {
      const [s1, s2] = await Promise.all([h1.status(), h2.status()]);
      return s1.cluster?.connected && s2.cluster?.connected ? true : undefined;
    }, 30_000, 100);
  } catch (err) {
    await stopHosts(hosts);
    throw err;
  }
  return hosts;
}

async function stopHosts({ h1, h2 }: Hosts): Promise<void> {
  await h1.stop();
  await h2.stop();
}

interface CrossStream {
  rate: number;
  /** Wall time per message, flood to h1's last receipt (what the CPU figures are shares of). */
  wallUsPerMsg: number;
  h1CpuUs: number;
  h2CpuUs: number;
  natsCpuUs: number;
}

/**
 * One stream of `n` one-way sends from h1's producer to h2's consumer, timed as
 * bench/route.ts times one supervisor (the flood's start to the last arrival). The CPU
 * deltas run until h1 owes nothing: a message's cost on h1 includes taking its receipt.
 */
async function crossStream({ h1, h2 }: Hosts, nats: NatsServer, n: number, size: number): Promise<CrossStream> {
  await h2.send('consumer', 'reset');
  const pids = [h1.pid, h2.pid, nats.pid];
  const c0 = pids.map(cpuMs);
  const t0 = performance.now();
  const { startedAt } = await h1.send<{ startedAt: number }>('producer', 'flood', { n, size });
  let seen = 0;
  const { lastAt } = await until(() => `${n} arrivals on h2 (have ${seen})`, async () => {
    const s = await h2.send<{ count: number; lastAt: number }>('consumer', 'stats');
    seen = s.count;
    return s.count >= n ? s : undefined;
  }, DEADLINE_MS);
  let owed = '';
  await until(() => `receipts for everything h1 sent (owed: ${owed})`, async () => {
    const o = (await h1.status()).cluster?.owed ?? [];
    owed = JSON.stringify(o);
    return o.every((x) => x.owed === 0) ? true : undefined;
  }, DEADLINE_MS);
  const wall = performance.now() - t0;
  const [h1Cpu, h2Cpu, natsCpu] = pids.map((p, i) => ((cpuMs(p) - c0[i]!) * 1000) / n) as [number, number, number];
  return { rate: n / ((lastAt - startedAt) / 1000), wallUsPerMsg: (wall * 1000) / n, h1CpuUs: h1Cpu, h2CpuUs: h2Cpu, natsCpuUs: natsCpu };
}

/** The cross-host rows: `n` one-way messages of `size` bytes and `rr` round trips, each beside one supervisor's and JetStream's. */
export async function clusterRows(n: number, rr: number, size: number): Promise<Row[]> {
  const bin = natsServerPath();
  if (!bin) {
    console.log('cluster rows skipped: nats-server is not installed (Debian: apt-get install nats-server)\n');
    return [];
  }
  const warm = Math.min(20_000, n);

  const local = await startPair('batch');
  let one: Stream, rrLocal: number[];
  try {
    await stream(local, warm, size);
    one = await stream(local, n, size);
    rrLocal = await roundTrips(local, rr, size);
  } finally {
    await local.stop();
  }

  const nats = await startNatsServer(bin);
  let cross: CrossStream, rrCross: number[];
  try {
    const hosts = await startHosts(nats.url);
    try {
      await crossStream(hosts, nats, warm, size);
      cross = await crossStream(hosts, nats, n, size);
      rrCross = await roundTrips(hosts.h1, rr, size);
    } finally {
      await stopHosts(hosts);
    }
  } finally {
    await nats.stop();
  }

  const js = await jetstreamRate(n, size);

  const us = (x: number) => `${x.toFixed(2)} µs`;
  const shareOf = (cpu: number) => `${((cpu / cross.wallUsPerMsg) * 100).toFixed(0)}% of a core`;
  const [p50c, p50l, p99c, p99l] = [percentile(rrCross, 50), percentile(rrLocal, 50), percentile(rrCross, 99), percentile(rrLocal, 99)];
  const size_ = `${n.toLocaleString('en-US')} x ${size} B`;
  const reported = { target: 'reported', pass: undefined };
  return [
    { metric: `cross-host routed msgs/s, producer on h1 -> consumer on h2 (real starts, journal batch, ${size_})`, ours: fmt.rate(cross.rate), base: `${fmt.rate(one.rate)} one supervisor`, ratio: fmt.x(cross.rate / one.rate), ...reported },
    { metric: `cross-host request/reply p50 (${rr} x ${size} B)`, ours: fmt.ms(p50c), base: `${fmt.ms(p50l)} one supervisor`, ratio: fmt.x(p50c / p50l), ...reported },
    { metric: 'cross-host request/reply p99', ours: fmt.ms(p99c), base: `${fmt.ms(p99l)} one supervisor`, ratio: fmt.x(p99c / p99l), ...reported },
    { metric: 'cross-host outheis msgs/s vs JetStream direct (same client, file storage, pull consumer acking each)', ours: fmt.rate(cross.rate), base: `${fmt.rate(js.rate)} JetStream`, ratio: fmt.x(cross.rate / js.rate), ...reported },
    { metric: `h1's supervisor CPU per message (origin: journal, publish, receipt; ${shareOf(cross.h1CpuUs)})`, ours: us(cross.h1CpuUs), base: `${us(one.cpuUsPerMsg)} one supervisor`, ratio: fmt.x(cross.h1CpuUs / one.cpuUsPerMsg), ...reported },
    { metric: `h2's supervisor CPU per message (receiver: journal, receipt, delivery; ${shareOf(cross.h2CpuUs)})`, ours: us(cross.h2CpuUs), base: `${us(one.cpuUsPerMsg)} one supervisor`, ratio: fmt.x(cross.h2CpuUs / one.cpuUsPerMsg), ...reported },
    { metric: 'nats-server CPU per message: cross-host outheis vs JetStream direct', ours: us(cross.natsCpuUs), base: `${us(js.cpuPerMsg)} JetStream direct`, ratio: fmt.x(cross.natsCpuUs / js.cpuPerMsg), ...reported },
    { metric: 'JetStream direct: its Node clients\' CPU per message (producer + consumer)', ours: '-', base: `${us(js.producerCpuPerMsg)} + ${us(js.consumerCpuPerMsg)}`, ratio: '-', ...reported },
  ];
}
