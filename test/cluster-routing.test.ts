// Two hosts on one machine: real `outheis start` supervisors (h1 and h2), each with
// its own state directory and config, meeting on a real nats-server with JetStream.
// h1's agents send to agents that live on h2, named in h1's `cluster.agents`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { connect, headers } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { fixture, until } from './helpers/harness.js';
import { startDaemon, stop, type Daemon } from './helpers/daemon.js';
import { assertAllHandled, clusterLines, clusterOf, handled, hostDir, startNats, type NatsServer } from './helpers/nats.js';

const TOTAL = 2000;
const STREAM = 'ROUTING';

let nats: NatsServer;
let h1: Daemon;
let h2: Daemon;
let sinkLog: string;

before(async () => {
  nats = await startNats();
  const dir2 = hostDir();
  sinkLog = join(dir2, 'data/handled.log');
  // h2 first: its consumer exists before h1 publishes (h1's messages would wait in the stream anyway).
  h2 = await startDaemon([
    ...clusterLines(nats.url, 'h2', STREAM),
    'agents:',
    `  sink: { run: ${fixture('consumer.js')}, args: [${sinkLog}, "0"], owns: [data], unveil: { data: rw } }`,
    `  archive: { run: ${fixture('echo.js')} }`,
  ], { dir: dir2, waitReady: ['sink', 'archive'] });
  h1 = await startDaemon([
    ...clusterLines(nats.url, 'h1', STREAM, { sink: 'h2', archive: 'h2' }),
    'agents:',
    `  asker: { run: ${fixture('echo.js')}, pledge: ["send:archive"] }`,
    `  nosy: { run: ${fixture('echo.js')} }`,
    `  producer: { run: ${fixture('producer.js')}, args: [sink, "${TOTAL}", "250"], pledge: ["send:sink"] }`,
  ], { dir: hostDir(), waitReady: ['asker', 'nosy', 'producer'] });
});

after(async () => {
  for (const d of [h1, h2]) if (d) await stop(d, 'SIGTERM');
  await nats?.stop();
});

test(`one way across hosts: ${TOTAL} messages from h1 handled once each on h2, none flagged redelivered, nothing left owed`, async () => {
  await until(() => `${TOTAL} handlings on h2 (have ${handled(sinkLog).length})`, () => (handled(sinkLog).length >= TOTAL ? true : undefined), 45_000, 100);
  // Owed until h2's receipts arrive: then nothing is.
  await until(() => `h1 to owe nothing: ${JSON.stringify(clusterOf(h1).owed)}`, () => (clusterOf(h1).owed.every((o) => o.owed === 0) ? true : undefined), 20_000, 200);
  assertAllHandled(handled(sinkLog), TOTAL, { repeats: 'none' });
  const c1 = clusterOf(h1);
  assert.equal(c1.connected, true);
  assert.equal(c1.host, 'h1');
  await until(() => `h1 to see h2 as a peer: ${JSON.stringify(clusterOf(h1).peers)}`, () => (clusterOf(h1).peers.includes('h2') ? true : undefined), 10_000, 200);
  const text = h1.cli(['status']).stdout;
  assert.match(text, /cluster h1: connected to /);
  assert.match(text, /to h2: 0 messages owed/);
});

test('request and reply across hosts: the sender is stamped agent@host, and the reply comes back', async () => {
  const r = h1.cliJson<{ reply: { ok: boolean; value: { name: string; from: string; redelivered: boolean } } }>(
    ['send', 'asker', 'call', JSON.stringify({ to: 'archive', kind: 'whoami', req: true, timeout: 20_000 }), '--wait']);
  assert.equal(r.reply.ok, true, JSON.stringify(r.reply));
  assert.deepEqual({ name: r.reply.value.name, from: r.reply.value.from, redelivered: r.reply.value.redelivered }, { name: 'archive', from: 'asker@h1', redelivered: false });
  // An error from the remote handler comes back as the request's error.
  const t = h1.cliJson<{ reply: { ok: boolean; code: string; message: string } }>(
    ['send', 'asker', 'call', JSON.stringify({ to: 'archive', kind: 'throw', req: true, timeout: 20_000 }), '--wait']);
  assert.deepEqual({ ok: t.reply.ok, code: t.reply.code }, { ok: false, code: 'EHANDLER' });
  assert.match(t.reply.message, /boom from handler/);
});

test('a request the remote agent does not answer within its timeout: the requester gets ETIMEDOUT, and h1 stops owing it long before the handler ends', async () => {
  // archive's handler takes 60 s; the request allows 1 s.
  const r = h1.cliJson<{ reply: { ok: boolean; code: string; message: string } }>(
    ['send', 'asker', 'call', JSON.stringify({ to: 'archive', kind: 'slow', body: { ms: 60_000 }, req: true, timeout: 1000 }), '--wait']);
  assert.deepEqual({ ok: r.reply.ok, code: r.reply.code }, { ok: false, code: 'ETIMEDOUT' }, JSON.stringify(r.reply));
  // h1's supervisor holds the request to the same deadline: answered there, acked in its journal, no longer owed.
  await until(() => `h1 to owe archive nothing: ${JSON.stringify(clusterOf(h1).owed)}`,
    () => (clusterOf(h1).owed.every((o) => o.owed === 0) ? true : undefined), 15_000, 100);
  const records = h1.cli(['journal', '--agent', 'archive', '--json', '-n', '100000']).stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { type: string; kind?: string; id?: number; ids?: number[] });
  const request = records.find((r) => r.type === 'accept' && r.kind === 'slow');
  assert.ok(request, 'h1 journaled the request');
  assert.ok(records.some((r) => r.type === 'ack' && r.ids?.includes(request.id!)), 'h1 journaled the timed-out request as settled (acked)');
  const slow = h2.cliJson<{ reply: unknown[] }>(['send', 'archive', 'seen', '{}', '--wait']);
  assert.ok(!slow.reply.some((s) => JSON.stringify(s).includes('60000')), 'settled on h1 while h2\'s handler still ran');
});

test('an unpledged send to a remote agent is EDENIED by h1 itself', () => {
  const r = h1.cliJson<{ reply: { ok: boolean; code: string } }>(
    ['send', 'nosy', 'call', JSON.stringify({ to: 'archive', kind: 'record', body: 'x', req: true, timeout: 20_000 }), '--wait']);
  assert.deepEqual(r.reply, { ...r.reply, ok: false, code: 'EDENIED' });
});

test('a message forged straight onto the stream, from a sender whose published pledges lack the target, is refused by h2 (denied, journaled) and never delivered', async () => {
  const nc = await connect({ servers: nats.url });
  try {
    const js = jetstream(nc);
    const h = headers();
    for (const [k, v] of Object.entries({ 'Outheis-From': 'nosy', 'Outheis-Host': 'h1', 'Outheis-Id': '7', 'Outheis-Kind': 'record', 'Outheis-Qos': 'user' })) h.set(k, v);
    await js.publish('outheis.h2.archive', new Uint8Array([0xa6, ...Buffer.from('forged')]), { headers: h, msgID: 'forged-1' });
  } finally {
    await nc.close();
  }
  const denied = (): boolean => h2.cli(['journal', '--kind', 'denied', '--json']).stdout.split('\n').some((l) => l.includes('"nosy@h1"') && l.includes('"archive"'));
  await until('h2 to journal the forged send as denied', () => (denied() ? true : undefined), 15_000, 200);
  const seen = h2.cliJson<{ reply: unknown[] }>(['send', 'archive', 'seen', '{}', '--wait']);
  assert.deepEqual(seen.reply, [], 'the forged message never reached the agent');
});
