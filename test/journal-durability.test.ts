// The journal's guarantees through a real `outheis start`: checkpoints survive
// agent and supervisor restarts, poison messages go to the dead letters, replay
// agrees with the live state, damage is moved aside and a torn tail cut, retention
// bounds the disk, and a full disk refuses sends without losing what was accepted.
// (Long because each guarantee needs its own real supervisor run; they share the setup.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Journal } from '../logs/journal/journal.js';
import { readRecords } from '../logs/journal/recover.js';
import { decodeRecords } from '../logs/journal/record.js';
import type { AnyRecord } from '../logs/journal/schema.js';
import { listSegments } from '../logs/journal/segment.js';
import type { StateView } from '../logs/journal/replay.js';
import type { StatusResult } from '../supervisor/control/protocol.js';
import { fixture, tempDir, until } from './helpers/harness.js';
import { agentOf, startDaemon, stop, type Daemon } from './helpers/daemon.js';
import { seededRng } from './helpers/rng.js';

function workDir(): string {
  const dir = tempDir('outheis-durable-');
  chmodSync(dir, 0o755); // agents' own uids reach their data through it
  mkdirSync(join(dir, 'data'));
  return dir;
}

const consumer = (dir: string, workUs = 200): string =>
  `  consumer: { run: ${fixture('consumer.js')}, args: [${join(dir, 'data/handled.log')}, "${workUs}"], owns: [data], unveil: { data: rw } }`;
const producer = (total: number, batch = 100): string =>
  `  producer: { run: ${fixture('producer.js')}, args: [consumer, "${total}", "${batch}"], pledge: ["send:consumer"], after: [consumer] }`;

function handledNs(dir: string): Set<number> {
  const file = join(dir, 'data/handled.log');
  if (!existsSync(file)) return new Set();
  return new Set(readFileSync(file, 'utf8').split('\n').filter((l) => /^\d+ \d+ [01]$/.test(l)).map((l) => Number(l.split(' ')[1])));
}

async function records(stateDir: string): Promise<AnyRecord[]> {
  const out: AnyRecord[] = [];
  for await (const r of readRecords(join(stateDir, 'journal'))) out.push(r as AnyRecord);
  return out;
}

const statusOf = (d: Daemon): StatusResult => d.cliJson<StatusResult>(['status']);

async function drained(d: Daemon, name: string): Promise<void> {
  await until(`${name} drained`, () => {
    const a = agentOf(d, name);
    return a.state === 'running' && a.mailbox === 0 && a.inflight === 0 ? true : undefined;
  }, 60_000);
}

test('checkpoints come back after an agent restart and after a supervisor restart; refused sends are journaled', { timeout: 120_000 }, async () => {
  const dir = workDir();
  const lines = ['agents:', `  echo: { run: ${fixture('echo.js')} }`, `  other: { run: ${fixture('echo.js')} }`];
  let d = await startDaemon(lines, { dir, waitReady: ['echo'] });
  try {
    // echo pledged nothing: its send is refused, and the refusal is on record.
    assert.deepEqual(d.cliJson<{ reply: { code: string } }>(['send', 'echo', 'call', '{"to":"other","kind":"sneak"}', '--wait']).reply.code, 'EDENIED');
    assert.deepEqual(d.cliJson(['send', 'echo', 'restored', '--wait']), { reply: null }, 'nothing restored on a first start');
    for (const n of [1, 2, 3]) assert.deepEqual(d.cliJson(['send', 'echo', 'checkpoint', JSON.stringify({ n, tags: ['a', n] }), '--wait']), { reply: 'saved' });
    assert.equal(d.cli(['restart', 'echo']).code, 0);
    assert.deepEqual(d.cliJson(['send', 'echo', 'restored', '--wait']), { reply: { n: 3, tags: ['a', 3] } }, 'the latest checkpoint');
    const seqBefore = statusOf(d).supervisor.journal!.lastSeq;
    await stop(d);
    d = await startDaemon(lines, { dir, waitReady: ['echo'] });
    assert.deepEqual(d.cliJson(['send', 'echo', 'restored', '--wait']), { reply: { n: 3, tags: ['a', 3] } }, 'kept across a supervisor restart');
    assert.ok(statusOf(d).supervisor.journal!.lastSeq > seqBefore, 'seqs go on where the last run stopped');
    // Messages owed to an agent that is then dropped from the config are not left hanging.
    assert.equal(d.cli(['stop', 'other']).code, 0);
    for (const n of [1, 2]) assert.equal(d.cli(['send', 'other', 'record', `{"n":${n}}`]).code, 0);
    await stop(d, 'SIGKILL');
    d = await startDaemon(lines.slice(0, 2), { dir, waitReady: ['echo'] });
    assert.deepEqual(d.cliJson(['send', 'echo', 'restored', '--wait']), { reply: { n: 3, tags: ['a', 3] } }, 'and across a supervisor crash');
    await d.printed(/message dead-lettered/);
  } finally {
    await stop(d);
  }
  const dead = (await records(d.stateDir)).filter((r) => r.type === 'deadletter');
  assert.deepEqual(dead.map((r) => r.type === 'deadletter' && [r.agent, r.kind, r.reason]), [1, 2].map(() => ['other', 'record', 'no agent named "other" in the config any more']));
  const all = await records(d.stateDir);
  assert.equal(all.filter((r) => r.type === 'checkpoint').length, 3);
  assert.deepEqual(all.filter((r) => r.type === 'denied').map((r) => r.type === 'denied' && [r.agent, r.to, r.kind]), [['echo', 'other', 'sneak']]);
  assert.equal(all.some((r) => r.type === 'accept' && r.kind === 'sneak'), false, 'a refused send is not accepted');
});

test('a poison message is dead-lettered after journal.max_attempts deliveries; the agent carries on', { timeout: 120_000 }, async () => {
  const dir = workDir();
  const d = await startDaemon([
    'supervisor: { intensity: 100, period: 10s, backoff: { initial: 10ms, max: 50ms } }',
    'journal: { max_attempts: 3 }',
    'agents:',
    consumer(dir),
  ], { dir, waitReady: ['consumer'] });
  try {
    assert.equal(d.cli(['send', 'consumer', 'poison', '{}']).code, 0);
    await until('dead-lettered', () => (agentOf(d, 'consumer').deadLetters === 1 ? true : undefined));
    const c = agentOf(d, 'consumer');
    assert.equal(c.restarts, 3, 'one crash per delivery');
    assert.match(d.cli(['status']).stdout, /1 dead letter \(consumer 1\)/);
    // The next message is handled: the poison is gone from the mailbox.
    assert.equal(d.cli(['send', 'consumer', 'item', '{"n":7}']).code, 0);
    await until('handled', () => (handledNs(dir).has(7) ? true : undefined));
    const dead = d.cli(['journal', '--kind', 'deadletter', '--json']);
    assert.equal(dead.code, 0, dead.stderr);
    const recs = dead.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; agent: string; kind: string; attempts: number; reason: string });
    assert.equal(recs.length, 1);
    assert.deepEqual([recs[0]!.type, recs[0]!.agent, recs[0]!.kind, recs[0]!.attempts], ['deadletter', 'consumer', 'poison', 3]);
    assert.match(recs[0]!.reason, /not acked after 3 deliveries/);
  } finally {
    await stop(d);
  }
  // Delivered three times (deliver records), never acked, settled by its dead letter.
  const all = await records(d.stateDir);
  const poison = all.find((r) => r.type === 'accept' && r.kind === 'poison')!;
  assert.ok(poison.type === 'accept');
  assert.equal(all.filter((r) => r.type === 'deliver' && r.ids.includes(poison.id)).length, 3);
  assert.equal(all.filter((r) => r.type === 'ack' && r.ids.includes(poison.id)).length, 0);
});

test('replay --until <seq> matches the state the running supervisor reported at that seq', { timeout: 180_000 }, async (t) => {
  const random = seededRng(t);
  const dir = workDir();
  const d = await startDaemon([
    'supervisor: { intensity: 100, period: 10s, backoff: { initial: 10ms, max: 50ms } }',
    'agents:',
    consumer(dir, 500),
    producer(3000, 50),
    `  echo: { run: ${fixture('echo.js')} }`,
  ], { dir, waitReady: ['consumer', 'producer', 'echo'] });
  const snapshots: StateView[] = [];
  try {
    for (let i = 0; i < 8; i++) {
      // The next moment: once the consumer has handled 30 to 200 more (8 × 200 leaves room in the producer's 3,000).
      const next = Math.min(3000, handledNs(dir).size + 30 + Math.floor(random() * 170));
      await until(`${next} handled`, () => (handledNs(dir).size >= next ? true : undefined), 60_000);
      if (i === 2 || i === 5) {
        const pid = agentOf(d, 'consumer').pid;
        if (pid) process.kill(pid, 'SIGKILL');
      }
      if (i === 3) d.cli(['send', 'echo', 'checkpoint', `{"i":${i}}`, '--wait']);
      if (i === 6) d.cli(['restart', 'echo']);
      snapshots.push(d.cliJson<StateView>(['replay', '--live']));
    }
    await drained(d, 'consumer');
    snapshots.push(d.cliJson<StateView>(['replay', '--live']));
  } finally {
    await stop(d);
  }
  const seqs = new Set(snapshots.map((s) => s.seq));
  assert.ok(seqs.size >= 5, `snapshots at distinct seqs: ${[...seqs].join(', ')}`);
  assert.ok(snapshots.some((s) => s.agents.consumer!.pending.length > 0), 'some snapshot caught messages owed');
  assert.ok(snapshots.some((s) => s.agents.consumer!.restarts > 0), 'and restarts');
  for (const live of snapshots) {
    const replayed = d.cliJson<StateView & { unreadable: number }>(['replay', '--until', String(live.seq)]);
    assert.equal(replayed.unreadable, 0);
    const { at: _a, unreadable: _u, ...rest } = replayed;
    const { at: _b, ...expected } = live;
    assert.deepEqual(rest, expected, `at seq ${live.seq}`);
  }
});

test('a torn tail is cut at any offset, and damage in a middle segment is moved aside and reported', { timeout: 180_000 }, async (t) => {
  const random = seededRng(t);
  const dir = workDir();
  const lines = ['journal: { segment_size: 64KiB, max_size: 64MiB }', 'agents:', consumer(dir, 0), producer(3000, 100)];
  let d = await startDaemon(lines, { dir, waitReady: ['consumer', 'producer'] });
  try {
    await until('all handled', () => (handledNs(dir).size === 3000 ? true : undefined), 60_000);
    await drained(d, 'consumer');
  } finally {
    await stop(d);
  }
  const jdir = join(d.stateDir, 'journal');
  const segs = await listSegments(jdir);
  assert.ok(segs.length >= 4, `${segs.length} segments`);
  const last = segs[segs.length - 1]!;
  const lastBytes = readFileSync(last.path);
  const before = (await records(d.stateDir)).length;
  const lastCount = decodeRecords(lastBytes).length;

  // Torn tail: a copy cut at random offsets recovers to exactly the whole records before the cut.
  for (let i = 0; i < 6; i++) {
    const copy = join(tempDir('outheis-torn-'), 'journal');
    cpSync(jdir, copy, { recursive: true });
    const cut = 1 + Math.floor(random() * (lastBytes.length - 1));
    truncateSync(join(copy, last.name), cut);
    let whole = 0;
    for (let off = 0, k = 0; k < lastCount; k++) {
      const end = off + 8 + lastBytes.readUInt32BE(off);
      if (end > cut) break;
      whole++;
      off = end;
    }
    const j = await Journal.open(copy, { fsync: 'batch', retainMs: 1e9, maxBytes: 1e12 });
    assert.equal(j.recovery.records, before - lastCount + whole, `cut at ${cut}`);
    assert.equal(j.recovery.movedAside.length, 0);
    assert.equal(statSync(join(copy, last.name)).size, cut - j.recovery.truncatedBytes);
    await j.close();
  }

  // A flipped byte in a middle segment: moved aside, the operator told where, the rest served.
  const middle = segs[1]!;
  const bytes = readFileSync(middle.path);
  const at = Math.floor(bytes.length / 2);
  bytes[at] = bytes[at]! ^ 0xff;
  writeFileSync(middle.path, bytes);
  d = await startDaemon(lines, { dir, waitReady: ['consumer', 'producer'] });
  try {
    await d.printed(/journal damage moved aside/);
    const line = d.out().split('\n').find((l) => l.includes('journal damage moved aside'))!;
    const moved = JSON.parse(line) as { movedTo: string; segment: string; bytes: number };
    assert.equal(moved.segment, middle.path);
    assert.ok(existsSync(moved.movedTo), moved.movedTo);
    assert.ok(moved.movedTo.startsWith(join(jdir, 'damaged')));
    assert.equal(statSync(moved.movedTo).size, moved.bytes);
    assert.ok(statSync(middle.path).size < bytes.length, 'the segment keeps its good part');
    // status says so too, for as long as this supervisor runs.
    assert.deepEqual(statusOf(d).supervisor.journal!.damaged.map((x) => x.movedTo), [moved.movedTo]);
    assert.match(d.cli(['status']).stdout, /DAMAGE MOVED ASIDE at start: .*damaged/);
    // The supervisor runs and routes on top of it.
    assert.equal(d.cli(['send', 'consumer', 'item', '{"n":99999}']).code, 0);
    await until('handled', () => (handledNs(dir).has(99999) ? true : undefined));
  } finally {
    await stop(d);
  }
});

test('retention: over max_size, what old segments still owe is carried forward (and survives a crash); settled segments go after retain', { timeout: 180_000 }, async () => {
  const dir = workDir();
  mkdirSync(join(dir, 'sink'));
  const lines = [
    'journal: { segment_size: 64KiB, max_size: 256KiB, retain: 1s }',
    'agents:',
    consumer(dir, 0),
    `  sink: { run: ${fixture('consumer.js')}, args: [${join(dir, 'sink/handled.log')}, "0"], owns: [sink], unveil: { sink: rw } }`,
    // Every 20th message to the sink, after a second in which the test stops the sink.
    `  producer: { run: ${fixture('producer.js')}, args: [consumer, "8000", "100", sink, "20", "1000"], pledge: ["send:consumer", "send:sink"], after: [consumer, sink] }`,
  ];
  const sinkNs = (): Set<number> => {
    const file = join(dir, 'sink/handled.log');
    return new Set(existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => Number(l.split(' ')[1])) : []);
  };
  let d = await startDaemon(lines, { dir, waitReady: ['consumer', 'sink', 'producer'] });
  const jdir = join(d.stateDir, 'journal');
  try {
    // The sink is stopped: what is sent to it stays owed, a few records in every segment, pinning them all.
    assert.equal(d.cli(['stop', 'sink']).code, 0);
    await until('producer done', () => (/producer done at 8000/.test(d.out()) ? true : undefined), 60_000);
    await drained(d, 'consumer');
    assert.equal(agentOf(d, 'sink').mailbox, 400 - sinkNs().size);
    let carried = 0;
    // Retention runs on its own clock: until it has carried forward and brought the journal within bounds (the asserts say which did not).
    await until('owed messages carried forward, the journal within max_size', async () => {
      carried = (await records(d.stateDir)).filter((r) => r.type === 'accept' && r.carried !== undefined).length;
      return carried > 0 && statusOf(d).supervisor.journal!.bytes <= 256 * 1024 ? true : undefined;
    }, 30_000, 200).catch(() => undefined);
    const j = statusOf(d).supervisor.journal!;
    assert.ok(carried > 0, `owed messages were carried forward; journal: ${JSON.stringify(j)}`);
    assert.ok(!existsSync(join(jdir, '0000000000000001.seg')), 'the oldest segment is gone');
    assert.ok(j.bytes <= 256 * 1024, `within max_size: ${JSON.stringify(j)}`);
    assert.equal(j.bytes, readdirSync(jdir).filter((f) => f.endsWith('.seg')).reduce((n, f) => n + statSync(join(jdir, f)).size, 0), 'status says what is on disk');
  } finally {
    await stop(d, 'SIGKILL');
  }
  // After a crash, the carried copies are what brings the sink's messages back.
  d = await startDaemon(lines, { dir, waitReady: ['sink'] });
  try {
    await until('all 400 handled by the sink', () => (sinkNs().size === 400 ? true : undefined), 60_000);
    await drained(d, 'sink');
    // Everything settled: old segments go once older than retain.
    const j = await until('settled segments removed', () => {
      const s = statusOf(d).supervisor.journal!;
      return s.segments <= 2 ? s : undefined;
    }, 30_000);
    assert.ok(j.bytes <= 128 * 1024, `${j.bytes} bytes`);
  } finally {
    await stop(d);
  }
  assert.deepEqual([...sinkNs()].sort((a, b) => a - b), Array.from({ length: 400 }, (_, i) => i * 20));
});

test('a full disk: sends are refused with EJOURNAL, the supervisor stays up, nothing accepted is lost', { timeout: 120_000 }, async () => {
  assert.equal(process.getuid!(), 0, 'this test mounts a small tmpfs for the journal: it needs root (CI runs as root)');
  const dir = workDir();
  const jdir = join(dir, '.outheis/journal');
  mkdirSync(jdir, { recursive: true, mode: 0o700 });
  chmodSync(join(dir, '.outheis'), 0o700);
  // The journal on a 1 MiB tmpfs of the supervisor's own mount namespace.
  const wrap = (argv: string[]): string[] => ['unshare', '-m', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs -o size=1m,mode=0700 tmpfs "$0" && exec "$@"`, jdir, ...argv];
  const d = await startDaemon(['agents:', `  echo: { run: ${fixture('echo.js')} }`], { dir, waitReady: ['echo'], wrap });
  const filler = `/proc/${d.proc.pid}/root${jdir}/filler`;
  try {
    for (let n = 1; n <= 5; n++) assert.equal(d.cli(['send', 'echo', 'record', `{"n":${n}}`]).code, 0);
    // Fill the tmpfs to the last byte.
    try {
      writeFileSync(filler, Buffer.alloc(2 << 20));
    } catch (err) {
      assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
    }
    // The tail page of the segment may still have room: send until a write needs a new one.
    const accepted = [1, 2, 3, 4, 5];
    const pad = 'x'.repeat(1000);
    let refused: { code: number | null; stdout: string } | undefined;
    for (let n = 6; n < 60 && !refused; n++) {
      const r = d.cli(['send', 'echo', 'record', `{"n":${n},"pad":"${pad}"}`, '--json']);
      if (r.code === 0) accepted.push(n);
      else refused = r;
    }
    assert.ok(refused, 'a send was refused');
    assert.equal(refused.code, 1);
    const asJson = JSON.parse(refused.stdout) as { ok: boolean; error: { code: string; message: string } };
    assert.deepEqual([asJson.ok, asJson.error.code], [false, 'EJOURNAL']);
    assert.match(asJson.error.message, /not accepted: journal write failed: ENOSPC/);
    const plain = d.cli(['send', 'echo', 'record', `{"n":1000,"pad":"${pad}"}`]);
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, /not accepted: journal write failed: ENOSPC/);
    const s = statusOf(d);
    assert.ok(s.supervisor.journal!.failures > 0 && /ENOSPC/.test(s.supervisor.journal!.lastError ?? ''), JSON.stringify(s.supervisor.journal));
    assert.match(d.cli(['status']).stdout, /JOURNAL FAILING/);
    await d.printed(/journal write failed: sends are refused/);
    // Room again: sends are accepted, and everything accepted before the disk filled was handled.
    unlinkSync(filler);
    assert.equal(d.cli(['send', 'echo', 'record', '{"n":2000}']).code, 0);
    const seen = d.cliJson<{ reply: { body: { n: number } }[] }>(['send', 'echo', 'seen', '--wait']);
    assert.deepEqual(seen.reply.map((r) => r.body.n), [...accepted, 2000]);
  } finally {
    await stop(d);
  }
});
