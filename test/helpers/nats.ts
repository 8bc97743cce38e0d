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
import type { Daemon } from './daemon.js';
import { tempDir } from './harness.js';

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
