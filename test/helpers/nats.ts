// The cluster tests' NATS: a real nats-server (bench/nats/server.ts starts it), and the
// configs of supervisors that meet there, each in a directory of its own.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { natsServerPath, startNatsServer, type NatsServer, type NatsServerOptions } from '../../bench/nats/server.js';
import type { StatusResult } from '../../supervisor/control/protocol.js';
import { readRecords } from '../../logs/journal/recover.js';
import type { AnyRecord } from '../../logs/journal/schema.js';
import { startDaemon, stop, type Daemon } from './daemon.js';
import { fixture, tempDir, until } from './harness.js';

export type { NatsServer };

/** A nats-server with JetStream on loopback. The package is a test dependency (`npm run setup`, .ci/run): no skipping without it. */
export function startNats(opts: NatsServerOptions = {}): Promise<NatsServer> {
  const bin = natsServerPath();
  assert.ok(bin, 'nats-server is not installed (Debian: apt-get install nats-server; npm run setup does it)');
  return startNatsServer(bin, opts);
}

/** A loopback port nothing listens on now (for a server started later, or again). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A directory for one host's supervisor, with `data/` its agents may own. */
export function hostDir(): string {
  const dir = tempDir('outheis-cluster-');
  chmodSync(dir, 0o755); // an agent's own uid reaches its data through it
  mkdirSync(join(dir, 'data'));
  chmodSync(join(dir, 'data'), 0o777);
  return dir;
}

/** The `cluster:` lines of a host's config; a fresh stream name per test keeps tests apart on one server. */
export function clusterLines(url: string, host: string, stream: string, agents: Record<string, string> = {}, extra: string[] = []): string[] {
  const list = Object.entries(agents).map(([a, h]) => `${a}: ${h}`).join(', ');
  return ['cluster:', `  nats: ${url}`, `  host: ${host}`, `  stream: ${stream}`, `  agents: { ${list} }`, ...extra.map((l) => `  ${l}`)];
}

export interface Handling { id: number; n: number; redelivered: boolean }

/** What the chaos consumer (fixtures/consumer.js) logged: one line per handling. */
export function handled(file: string): Handling[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => /^\d+ \d+ [01]$/.test(l)).map((l) => {
    const [id, n, r] = l.split(' ').map(Number);
    return { id: id!, n: n!, redelivered: r === 1 };
  });
}

/** The cluster section of `status --json`. */
export function clusterOf(d: Daemon): NonNullable<StatusResult['cluster']> {
  const s = d.cliJson<StatusResult>(['status']);
  assert.ok(s.cluster, 'status has no cluster section');
  return s.cluster;
}

/** Every n in [0, total) handled, and each repeat flagged: the at-least-once guarantee, from the consumer's log. */
export function assertAllHandled(hs: readonly Handling[], total: number, opts: { repeats: 'none' | 'flagged' }): void {
  const first = new Map<number, Handling>();
  const unflaggedRepeats: Handling[] = [];
  for (const h of hs) {
    if (!first.has(h.n)) first.set(h.n, h);
    else if (!h.redelivered) unflaggedRepeats.push(h);
  }
  const missing = [];
  for (let n = 0; n < total; n++) if (!first.has(n)) missing.push(n);
  assert.deepEqual(missing.slice(0, 20), [], `${missing.length} of ${total} never handled`);
  assert.deepEqual(unflaggedRepeats.slice(0, 5), [], 'a message handled again without redelivered');
  if (opts.repeats === 'none') {
    assert.equal(hs.length, total, 'each message handled exactly once');
    assert.deepEqual(hs.filter((h) => h.redelivered).slice(0, 5), [], 'nothing flagged redelivered without a failure');
  }
}

/** No message of another host accepted twice: each origin (host, id) under one local id only, in the journal of a stopped supervisor. */
export async function assertOriginsOnce(stateDir: string): Promise<number> {
  const ids = new Map<string, Set<number>>();
  for await (const r of readRecords(join(stateDir, 'journal'))) {
    const rec = r as AnyRecord;
    if (rec.type !== 'accept' || !rec.origin) continue;
    const key = `${rec.origin.host}.${rec.origin.id}`;
    (ids.get(key) ?? ids.set(key, new Set()).get(key)!).add(rec.id);
  }
  const twice = [...ids].filter(([, s]) => s.size > 1);
  assert.deepEqual(twice.slice(0, 5).map(([k, s]) => [k, [...s]]), [], 'a message from another host accepted twice');
  return ids.size;
}

/** The chaos pair: h1's producer streams `total` numbered messages to `sink` on h2 (fixtures producer.js and consumer.js), which logs each handling. */
export interface StreamPair {
  h1: Daemon;
  h2: Daemon;
  /** sink's log of handlings (see handled). */
  log: string;
  total: number;
  /** Start a host's supervisor again on its config and state directory (after a kill). */
  restart(host: 'h1' | 'h2'): Promise<Daemon>;
  /** Both supervisors stopped (SIGTERM; one already gone is left as it is). */
  stop(): Promise<void>;
}

export async function streamPair(nats: NatsServer, stream: string, total: number, opts: { sinkMs?: number; h2Lines?: string[] } = {}): Promise<StreamPair> {
  const dirs = { h1: hostDir(), h2: hostDir() };
  const log = join(dirs.h2, 'data/handled.log');
  const configs = {
    h2: [
      ...clusterLines(nats.url, 'h2', stream), ...(opts.h2Lines ?? []), 'agents:',
      `  sink: { run: ${fixture('consumer.js')}, args: [${log}, "${opts.sinkMs ?? 300}"], owns: [data], unveil: { data: rw } }`,
    ],
    h1: [
      ...clusterLines(nats.url, 'h1', stream, { sink: 'h2' }), 'agents:',
      `  producer: { run: ${fixture('producer.js')}, args: [sink, "${total}", "250"], pledge: ["send:sink"] }`,
    ],
  };
  const agentOn = { h1: 'producer', h2: 'sink' };
  const start = (host: 'h1' | 'h2') => startDaemon(configs[host], { dir: dirs[host], waitReady: [agentOn[host]] });
  const h2 = await start('h2');
  const pair: StreamPair = {
    h2, h1: await start('h1'), log, total,
    restart: async (host) => (pair[host] = await start(host)),
    stop: async () => {
      await stop(pair.h1, 'SIGTERM');
      await stop(pair.h2, 'SIGTERM');
    },
  };
  return pair;
}

/** Until sink has handled a quarter of the stream: the moment to strike. */
export const partWay = (p: StreamPair, share = 1 / 4): Promise<unknown> =>
  until(`h2 to be ${share * 100}% through`, () => (handled(p.log).length >= p.total * share ? true : undefined), 30_000, 20);

/** Right after a kill: it came mid-stream (not everything handled yet). */
export function assertMidStream(p: StreamPair): void {
  const before = handled(p.log).length;
  assert.ok(before < p.total, `killed mid-stream (${before} of ${p.total} handled before)`);
}

/** Until every n was handled on h2 and h1 owes h2 nothing. */
export async function drained(p: StreamPair): Promise<void> {
  await until(() => `every n handled on h2 (${new Set(handled(p.log).map((h) => h.n)).size} of ${p.total})`,
    () => (new Set(handled(p.log).map((h) => h.n)).size >= p.total ? true : undefined), 45_000, 100);
  await until(() => `h1 to owe nothing: ${JSON.stringify(clusterOf(p.h1).owed)}`, () => (clusterOf(p.h1).owed.every((o) => o.owed === 0) ? true : undefined), 20_000, 200);
}

/** h2 stopped and its journal read: no message of h1 accepted twice, and the stream's messages journaled by their origin. */
export async function assertJournaledOnce(p: StreamPair): Promise<void> {
  await stop(p.h2, 'SIGTERM');
  assert.ok(await assertOriginsOnce(p.h2.stateDir) >= p.total / 2, 'h2 journaled the messages by their origin');
}
