// Both sides of the cluster against the real router, with NATS replaced by a recorder
// of what would be published: what is owed until a receipt, what a request waits for,
// what a disconnect publishes again, and what a receiving host does with a message it
// has, one it may not take, and one it has already.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsMsg } from '@nats-io/jetstream';
import type { ClusterLink } from '../cluster/link.js';
import { Origin } from '../supervisor/remote/origin.js';
import { Receiver } from '../supervisor/remote/receiver.js';
import { silentLogger } from '../logs/logger.js';
import { until } from './helpers/harness.js';
import { body, fixture, send } from './helpers/router-fixture.js';

interface Published { subject: string; hdrs: Record<string, string>; msgID: string | undefined; data: Uint8Array }

function fakeLink(pledges: Record<string, string[]> = {}): { link: ClusterLink; published: Published[] } {
  const published: Published[] = [];
  const link = {
    publish: (subject: string, data: Uint8Array, hdrs: Record<string, string>, msgID?: string) => {
      published.push({ subject, hdrs, msgID, data });
      return Promise.resolve({ duplicate: false, seq: published.length, stream: 'S' });
    },
    pledgesOf: async (host: string, agent: string) => pledges[`${host}.${agent}`],
  };
  return { link: link as unknown as ClusterLink, published };
}

const log = silentLogger();
const tick = () => new Promise((r) => setImmediate(r));

test('origin: a message to a remote agent is published under its id and owed until the receipt; a request until its reply', async () => {
  const f = fixture();
  const sender = f.add({ name: 'producer', pledge: ['send:archive'] });
  const archive = f.router.add({ name: 'archive', qos: 'utility', pledge: [], mailbox: 100, maxFrame: 1 << 20, prefetch: 10 });
  const { link, published } = fakeLink();
  const origin = new Origin(f.router, [{ route: archive, host: 'h2' }], 'h1', link, log);
  f.router.frame(sender.route, send(1, 'archive'), body('one way'));
  f.router.frame(sender.route, send(2, 'archive', { req: true }), body('request'));
  assert.equal(published.length, 0, 'nothing published before the link is up');
  assert.equal(archive.mailbox.depth, 2);
  origin.connected();
  assert.equal(published.length, 2);
  const [oneWay, request] = published;
  assert.equal(oneWay!.subject, 'outheis.h2.archive');
  const id1 = Number(oneWay!.hdrs['Outheis-Id']);
  const id2 = Number(request!.hdrs['Outheis-Id']);
  assert.equal(oneWay!.msgID, `h1.${id1}`);
  assert.deepEqual({ from: oneWay!.hdrs['Outheis-From'], host: oneWay!.hdrs['Outheis-Host'], req: request!.hdrs['Outheis-Req'] }, { from: 'producer', host: 'h1', req: '1' });
  // A receipt from another host than the agent's does not count.
  origin.receipt('h3', [id1, id2]);
  assert.equal(archive.mailbox.inflight.size, 2);
  origin.receipt('h2', [id1, id2]);
  assert.deepEqual([...archive.mailbox.inflight.keys()], [id2], 'the one-way message settled; the request waits for its reply');
  assert.equal(sender.out.ress.length, 0, 'a receipt does not answer a request');
  origin.reply('h2', id2, undefined, body('answer'));
  assert.equal(archive.mailbox.inflight.size, 0);
  assert.deepEqual(sender.out.ress.map((r) => [r.corr, r.err]), [[2, undefined]]);
});

test('origin: a disconnect publishes what was in flight again, flagged; one receipted meanwhile is settled, not published', async () => {
  const f = fixture();
  const sender = f.add({ name: 'producer', pledge: ['send:archive'] });
  const archive = f.router.add({ name: 'archive', qos: 'utility', pledge: [], mailbox: 100, maxFrame: 1 << 20, prefetch: 10 });
  const { link, published } = fakeLink();
  const origin = new Origin(f.router, [{ route: archive, host: 'h2' }], 'h1', link, log);
  origin.connected();
  f.router.frame(sender.route, send(1, 'archive'), body('a'));
  f.router.frame(sender.route, send(2, 'archive'), body('b'));
  const ids = published.map((p) => Number(p.hdrs['Outheis-Id']));
  origin.disconnected();
  assert.equal(archive.mailbox.depth, 2, 'back in the mailbox, still owed');
  origin.receipt('h2', [ids[0]!]); // arrived as the link came back, before the republish
  origin.connected();
  await tick();
  const again = published.slice(2);
  assert.deepEqual(again.map((p) => [Number(p.hdrs['Outheis-Id']), p.hdrs['Outheis-Redelivered']]), [[ids[1], '1']]);
  assert.deepEqual([...archive.mailbox.inflight.keys()], [ids[1]]);
});

function jsMsg(subject: string, hdrs: Record<string, string>, data: Uint8Array): JsMsg & { acked: number; terms: number } {
  const m = {
    subject, data, acked: 0, terms: 0,
    headers: { get: (k: string) => hdrs[k] ?? '' },
    ackAck: async () => { m.acked++; return true; },
    ack: () => { m.acked++; },
    nak: () => undefined,
    term: () => { m.terms++; },
    working: () => undefined,
    info: { redelivered: false },
  };
  return m as unknown as JsMsg & { acked: number; terms: number };
}

const fromH1 = (id: number, extra: Record<string, string> = {}) => ({ 'Outheis-From': 'producer', 'Outheis-Host': 'h1', 'Outheis-Id': String(id), 'Outheis-Kind': 'item', 'Outheis-Qos': 'user', ...extra });

test('receiver: a message from producer@h1 is admitted under its pledge, receipted once journaled, then acked; taken again it is receipted, not delivered; producer@h1 is no target', async () => {
  const f = fixture();
  const sink = f.add({ name: 'sink' });
  const { link, published } = fakeLink({ 'h1.producer': ['send:sink'] });
  const origins = new Set<string>();
  const receiver = new Receiver(f.router, 'h2', link, origins, log);
  try {
    const m = jsMsg('outheis.h2.sink', fromH1(41, { 'Outheis-Redelivered': '1' }), body('x'));
    receiver.message(m, 'sink');
    await until('the receipt, then the ack', () => (m.acked ? true : undefined), 5000, 5);
    assert.deepEqual(sink.out.msgs.map((x) => ({ from: x.from, kind: x.kind, redelivered: x.redelivered })), [{ from: 'producer@h1', kind: 'item', redelivered: true }]);
    assert.equal(receiver.remembered, 1, 'h1.41 remembered by its origin');
    assert.deepEqual(published.map((p) => [p.subject, new TextDecoder().decode(p.data)]), [['outheis.h1._receipt', '[41]']]);
    assert.equal(m.acked, 1, 'acked once its receipt is stored');
    const again = jsMsg('outheis.h2.sink', fromH1(41), body('x'));
    receiver.message(again, 'sink');
    await until('the copy acked', () => (again.acked ? true : undefined), 5000, 5);
    assert.equal(sink.out.msgs.length, 1, 'not delivered twice');
    assert.equal(again.acked, 1);
    assert.equal(published.length, 2, 'receipted again');
    // The remote sender's route only sends here: not even send:* reaches it.
    const local = f.add({ name: 'local', pledge: ['send:*'] });
    f.router.frame(local.route, send(1, 'producer@h1'), body('x'));
    assert.deepEqual(local.out.rejs.map((r) => r.code), ['ENOAGENT']);
  } finally {
    receiver.close();
  }
});

test('receiver: a sender whose published pledges lack the target is refused (denied), answered as a request, and receipted; garbage is terminated', async () => {
  const f = fixture();
  const archive = f.add({ name: 'archive' });
  const { link, published } = fakeLink({ 'h1.nosy': [] });
  const receiver = new Receiver(f.router, 'h2', link, new Set(), log);
  try {
    const m = jsMsg('outheis.h2.archive', { ...fromH1(7, { 'Outheis-Req': '1' }), 'Outheis-From': 'nosy' }, body('x'));
    receiver.message(m, 'archive');
    await until('the refusal receipted and acked', () => (m.acked ? true : undefined), 5000, 5);
    assert.equal(archive.out.msgs.length, 0);
    assert.deepEqual(f.denied, [{ from: 'nosy@h1', to: 'archive', kind: 'item' }]);
    const reply = published.find((p) => p.subject === 'outheis.h1._reply')!;
    assert.deepEqual({ corr: reply.hdrs['Outheis-Corr'], err: reply.hdrs['Outheis-Err'] }, { corr: '7', err: '1' });
    assert.equal(JSON.parse(new TextDecoder().decode(reply.data)).code, 'EDENIED');
    assert.ok(published.some((p) => p.subject === 'outheis.h1._receipt'));
    assert.equal(m.acked, 1);
    const bad = jsMsg('outheis.h2.archive', { 'Outheis-From': 'nosy' }, body('x'));
    receiver.message(bad, 'archive');
    assert.equal(bad.terms, 1);
  } finally {
    receiver.close();
  }
});
