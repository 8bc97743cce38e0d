// The CLI's side of the control socket checks every reply against the protocol's
// schemas: a supervisor of another version, or garbage on the socket, is an
// EBADREPLY naming the field, not a crash somewhere in rendering. A stand-in
// server on a real Unix socket answers whatever each test scripts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { ClientError, ControlClient } from '../cli/client.js';
import type { StatusResult } from '../supervisor/control/protocol.js';
import { CLI } from './helpers/harness.js';
import { scratchDirs } from './helpers/scratch.js';

const scratch = scratchDirs('outheis-control-client-');

const STATUS: StatusResult = {
  supervisor: { pid: 4242, version: '0.0.0', startedAt: 1_700_000_000_000, uptimeMs: 5000, cpu: 0.5, rss: 50 * 1024 * 1024, config: '/x/outheis.yaml', stateDir: '/x/.outheis', stopping: false, journal: null },
  agents: [{
    name: 'notes', group: null, pid: 4243, state: 'running', uptimeMs: 4000, restarts: 0, lastExit: null, cpu: 0.1, rss: 30 * 1024 * 1024,
    memoryLimit: null, mailbox: 0, inflight: 0, qos: 'utility', isolation: { layers: ['env', 'fds'], weaker: false }, deadLetters: 0,
  }],
};

/** A state directory whose socket answers each request line with `answer(request)` (a value, or a raw line). */
async function standIn(answer: (req: { id: number; op: string }) => unknown): Promise<{ dir: string; server: Server }> {
  const dir = scratch();
  const server = createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const req = JSON.parse(buf.slice(0, nl)) as { id: number; op: string };
        buf = buf.slice(nl + 1);
        const a = answer(req);
        sock.write((typeof a === 'string' ? a : JSON.stringify(a)) + '\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(join(dir, 'outheis.sock'), resolve));
  return { dir, server };
}

async function callStatus(answer: (req: { id: number; op: string }) => unknown): Promise<StatusResult> {
  const { dir, server } = await standIn(answer);
  const client = await ControlClient.connect(dir);
  try {
    return await client.call({ op: 'status' });
  } finally {
    client.close();
    server.close();
  }
}

test('a reply of the right shape is handed on as it came, fields a newer supervisor added included', async () => {
  const got = await callStatus((req) => ({ id: req.id, ok: true, result: { ...STATUS, future: 'kept' } }));
  assert.deepEqual(got, { ...STATUS, future: 'kept' });
});

test('a result of another shape is EBADREPLY naming the field and what was expected', async () => {
  const skewed = { ...STATUS, agents: [{ ...STATUS.agents[0], state: 'zombie' }] };
  await assert.rejects(callStatus((req) => ({ id: req.id, ok: true, result: skewed })), (err: unknown) => {
    assert.ok(err instanceof ClientError);
    assert.equal(err.code, 'EBADREPLY');
    assert.match(err.message, /reply to status is not one outheis \S+ understands: result\.agents\.0\.state: .*"running"/);
    assert.match(err.message, /another version/);
    return true;
  });
  const missing: Record<string, unknown> = { ...STATUS, supervisor: { ...STATUS.supervisor } };
  delete (missing.supervisor as Record<string, unknown>).rss;
  await assert.rejects(callStatus((req) => ({ id: req.id, ok: true, result: missing })), { code: 'EBADREPLY', message: /result\.supervisor\.rss: / });
});

test('an envelope that is not a reply is EBADREPLY too; an error reply keeps the supervisor\'s code', async () => {
  await assert.rejects(callStatus((req) => ({ id: req.id, hello: 'world' })), { code: 'EBADREPLY', message: /: ok: / });
  await assert.rejects(callStatus((req) => ({ id: req.id, ok: false, error: { code: 'ENOAGENT', message: 'no agent named "x"' } })), { code: 'ENOAGENT', message: 'no agent named "x"' });
});

test('outheis status against a skewed supervisor exits 1 with the field, as text and as --json', async () => {
  const { dir, server } = await standIn((req) => ({ id: req.id, ok: true, result: { ...STATUS, agents: [{ ...STATUS.agents[0], rss: '30M' }] } }));
  try {
    const run = async (...args: string[]) => {
      const p = spawn(process.execPath, [CLI, 'status', '--state-dir', dir, ...args], { env: { ...process.env, NO_COLOR: '1' } });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (c) => (stdout += c));
      p.stderr.on('data', (c) => (stderr += c));
      const code = await new Promise<number | null>((resolve) => p.on('exit', resolve));
      return { code, stdout, stderr };
    };
    const text = await run();
    assert.equal(text.code, 1);
    assert.match(text.stderr, /^outheis: the supervisor's reply to status is not one outheis \S+ understands: result\.agents\.0\.rss: /);
    assert.doesNotMatch(text.stderr, /\n\s+at /, 'no stack trace');
    const json = await run('--json');
    assert.equal(json.code, 1);
    const printed = JSON.parse(json.stdout) as { ok: boolean; error: { code: string; message: string } };
    assert.equal(printed.ok, false);
    assert.equal(printed.error.code, 'EBADREPLY');
    assert.match(printed.error.message, /result\.agents\.0\.rss/);
  } finally {
    server.close();
  }
});
