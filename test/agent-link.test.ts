// The supervisor's end of a channel (supervisor/agent-link.ts) on a real socket: what
// the router gets of a frame. A send's body is copied out of the read chunk once, at
// the link (the router keeps it as given: a view would pin the whole chunk, and the
// chunk's memory is not the router's); a reply's is forwarded at once, so a view does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { AgentLink } from '../supervisor/agent-link.js';
import { encodeFrame } from '../protocol/frame.js';
import type { AgentHeader } from '../protocol/header.js';

function linked() {
  const socket = new Socket();
  const got: { h: AgentHeader; body: Buffer }[] = [];
  const faults: string[] = [];
  new AgentLink(socket, 1 << 20, { frame: (h, body) => got.push({ h, body }), batchEnd: () => {}, fault: (r) => faults.push(r) });
  return { socket, got, faults };
}

test('a send\'s body reaches the router as a copy: reusing the read chunk does not touch a queued message', () => {
  const { socket, got } = linked();
  const chunk = Buffer.concat([
    encodeFrame({ t: 'send', seq: 1, to: 'b', kind: 'k' }, Buffer.from('original')),
    encodeFrame({ t: 'reply', corr: 7 }, Buffer.from('answer')),
  ]);
  socket.emit('data', chunk);
  assert.deepEqual(got.map((g) => g.h), [{ t: 'send', seq: 1, to: 'b', kind: 'k' }, { t: 'reply', corr: 7 }]);
  const [send, reply] = got;
  assert.equal(reply!.body.toString(), 'answer');
  chunk.fill(0);
  assert.equal(send!.body.toString(), 'original', 'a kept body shares no memory with the chunk');
  assert.ok(reply!.body.every((b) => b === 0), 'a forwarded reply is a view of the chunk, not a copy');
});

test('headers the fast path does not take are still validated by the schema: a forged field faults the agent', () => {
  const { socket, got, faults } = linked();
  socket.emit('data', encodeFrame({ t: 'send', seq: 1, to: 'b', kind: 'k', from: 'root' }, Buffer.from('x')));
  assert.equal(got.length, 0);
  assert.equal(faults.length, 1);
  assert.match(faults[0]!, /invalid header/);
});

test('an error reply (a nested header, read by the schema) reaches the router whole', () => {
  const { socket, got, faults } = linked();
  socket.emit('data', encodeFrame({ t: 'reply', corr: 3, err: { code: 'EHANDLER', message: 'boom' } }));
  assert.deepEqual(faults, []);
  assert.deepEqual(got.map((g) => g.h), [{ t: 'reply', corr: 3, err: { code: 'EHANDLER', message: 'boom' } }]);
});
