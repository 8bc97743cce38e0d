// Crash-safe delivery with real processes: a real `outheis start`, sandboxed
// agents, the journal on disk. A producer streams 20,000 messages to a consumer
// that logs every handling (id, n, redelivered); the journal says what was
// accepted and acked. The consumer, then the supervisor itself, is SIGKILLed at
// random moments: after a random number of further handlings, from a seeded
// generator (the seed is printed; OUTHEIS_TEST_SEED replays it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRecords } from '../logs/journal/recover.js';
import type { AnyRecord } from '../logs/journal/schema.js';
import type { StatusResult } from '../supervisor/control/protocol.js';
import { alive, fixture, processesMatching, tempDir, until } from './helpers/harness.js';
import { agentOf, startDaemon, stop, type Daemon } from './helpers/daemon.js';
import { seededRng } from './helpers/rng.js';

const TOTAL = 20_000;

function config(dir: string, total = TOTAL): string[] {
  return [
    // Restarts are the point here: the root must not give up on them.
    'supervisor: { intensity: 10000, period: 1s, backoff: { initial: 10ms, max: 20ms } }',
    'journal: { max_attempts: 1000 }',
    'agents:',
    `  consumer: { run: ${fixture('consumer.js')}, args: [${join(dir, 'data/handled.log')}, "200"], owns: [data], unveil: { data: rw } }`,
    `  producer: { run: ${fixture('producer.js')}, args: [consumer, "${total}", "250"], pledge: ["send:consumer"], after: [consumer] }`,
  ];
}

interface Handling { id: number; n: number; redelivered: boolean }

function handled(dir: string): Handling[] {
  const file = join(dir, 'data/handled.log');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => /^\d+ \d+ [01]$/.test(l)).map((l) => {
    const [id, n, r] = l.split(' ').map(Number);
    return { id: id!, n: n!, redelivered: r === 1 };
  });
}

function chaosDir(): string {
  const dir = tempDir('outheis-chaos-');
  // The consumer's own uid must reach its data directory through this one.
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'data'));
  return dir;
}

const distinctN = (hs: Handling[]): number => new Set(hs.map((h) => h.n)).size;

async function journalOf(stateDir: string): Promise<AnyRecord[]> {
  const out: AnyRecord[] = [];
  for await (const r of readRecords(join(stateDir, 'journal'))) out.push(r as AnyRecord);
  return out;
}

/**
 * The guarantees, checked against the journal and the consumer's own log:
 * every accepted message handled at least once and acked exactly once, and every
 * handling after a message's first one flagged redelivered.
 */
function checkDelivery(records: AnyRecord[], hs: Handling[]): { redelivered: number; duplicates: number } {
  const accepted = new Map<number, number>(); // id → n
  const acks = new Map<number, number>();
  for (const r of records) {
    if (r.type === 'accept' && r.to === 'consumer' && r.carried === undefined) accepted.set(r.id, -1);
    if (r.type === 'ack' && r.agent === 'consumer') for (const id of r.ids) acks.set(id, (acks.get(id) ?? 0) + 1);
    assert.notEqual(r.type, 'deadletter', `nothing is dead-lettered: ${JSON.stringify(r)}`);
  }
  const byId = new Map<number, Handling[]>();
  for (const h of hs) {
    const list = byId.get(h.id);
    if (list) list.push(h);
    else byId.set(h.id, [h]);
  }
  let duplicates = 0;
  for (const id of accepted.keys()) {
    const list = byId.get(id);
    assert.ok(list, `message ${id} was accepted and never handled`);
    assert.equal(acks.get(id), 1, `message ${id} acked ${acks.get(id) ?? 0} times`);
    for (const later of list.slice(1)) {
      assert.equal(later.redelivered, true, `message ${id} handled again without the redelivered flag`);
      duplicates++;
    }
  }
  for (const id of byId.keys()) assert.ok(accepted.has(id), `handled message ${id} is not in the journal as accepted`);
  for (const id of acks.keys()) assert.ok(accepted.has(id), `acked message ${id} is not in the journal as accepted`);
  // The producer resumes from its checkpoint: every n arrived, whatever the crashes.
  assert.equal(distinctN(hs), TOTAL);
  return { redelivered: hs.filter((h) => h.redelivered).length, duplicates };
}

/**
 * The consumer's own node process (its host pid, not its bubblewrap's), found with ps
 * by the log path on its command line: cheaper than a status round trip, so that
 * the kills keep up with a consumer handling thousands a second.
 */
function consumerPid(dir: string): number | undefined {
  const line = processesMatching(join(dir, 'data/handled.log')).find((l) => /^\s*\d+\s+\S+\s+\S*\bnode\s/.test(l));
  return line ? Number(line.trim().split(/\s+/)[0]) : undefined;
}

/** Until the consumer has nothing owed: every handling acked in the journal. */
const allAcked = (d: Daemon): Promise<true> => until('everything acked', () => {
  const c = agentOf(d, 'consumer');
  return c.mailbox === 0 && c.inflight === 0 ? true : undefined;
});

test('agent SIGKILL: 20,000 messages to a consumer killed at random moments', { timeout: 240_000 }, async (t) => {
  const random = seededRng(t);
  const d = { dir: chaosDir() };
  const run = await startDaemon(config(d.dir), { dir: d.dir, waitReady: ['consumer', 'producer'] });
  let kills = 0;
  try {
    for (;;) {
      // The next kill: once the running consumer has handled 200 to 1,500 more messages.
      const next = distinctN(handled(d.dir)) + 200 + Math.floor(random() * 1300);
      if (next >= TOTAL) break;
      const pid = await until(`${next} handled, and a consumer process to kill`, () => (distinctN(handled(d.dir)) >= next ? consumerPid(d.dir) : undefined), 120_000);
      try {
        process.kill(pid, 'SIGKILL');
        kills++;
      } catch { /* exited meanwhile */ }
    }
    await until('all handled', () => (distinctN(handled(d.dir)) >= TOTAL ? true : undefined), 120_000);
    // Let the last acks reach the journal before stopping.
    await allAcked(run);
  } finally {
    await stop(run);
  }
  const records = await journalOf(run.stateDir);
  const hs = handled(d.dir);
  const { redelivered, duplicates } = checkDelivery(records, hs);
  const restarts = records.filter((r) => r.type === 'restart' && r.agent === 'consumer').length;
  assert.ok(kills >= 3 && restarts >= 3, `${kills} kills, ${restarts} restarts`);
  assert.ok(redelivered > 0, 'a kill with deliveries in flight redelivers them');
  t.diagnostic(`agent SIGKILL: ${kills} kills, ${hs.length} handlings of ${TOTAL}, ${duplicates} duplicates (all flagged), ${redelivered} flagged`);
});

test('supervisor SIGKILL mid-stream, started again: nothing accepted is lost', { timeout: 240_000 }, async (t) => {
  const random = seededRng(t);
  const dir = chaosDir();
  let run = await startDaemon(config(dir), { dir, waitReady: ['consumer', 'producer'] });
  const killedAt = 3000 + Math.floor(random() * 8000);
  await until(`${killedAt} handled`, () => (distinctN(handled(dir)) >= killedAt ? true : undefined), 120_000);
  const agents = run.cliJson<StatusResult>(['status']).agents.flatMap((a) => (a.pid ? [a.pid] : []));
  await stop(run, 'SIGKILL');
  const before = distinctN(handled(dir));
  // Its agents die with it (the channel closes; bubblewrap's --die-with-parent): the next run starts without them.
  for (const pid of agents) await until(`agent ${pid} to die with its supervisor`, () => (alive(pid) ? undefined : true), 10_000);
  run = await startDaemon(config(dir), { dir, waitReady: ['consumer', 'producer'] });
  try {
    await run.printed(/journal recovered/);
    assert.match(run.out(), /"previousRun":"did not stop cleanly"/);
    await until('all handled', () => (distinctN(handled(dir)) >= TOTAL ? true : undefined), 180_000);
    await allAcked(run);
    // The producer picked up from its checkpoint, not from 0.
    assert.match(run.out(), /producer resumes at [1-9]\d*/);
  } finally {
    await stop(run);
  }
  const records = await journalOf(run.stateDir);
  const { duplicates } = checkDelivery(records, handled(dir));
  assert.equal(records.filter((r) => r.type === 'start').length, 2);
  t.diagnostic(`supervisor SIGKILL after ${before} of ${TOTAL}: ${duplicates} duplicates, all flagged`);
});
