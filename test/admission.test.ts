// Admission by class through a real `outheis start`: three background agents flood a
// service until its mailbox holds all that background may; an interactive request,
// from an agent and from the CLI, is still admitted at once and answered ahead of the
// background work queued before it. The flooders are held back, never faulted.
// Latencies are reported (t.diagnostic), not asserted: the machine is noisy.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { fixture, until } from './helpers/harness.js';
import { agentOf, startDaemon, stop, type Daemon } from './helpers/daemon.js';
import type { StatusResult } from '../supervisor/control/protocol.js';
import { scanRecords } from '../logs/journal/query.js';
import { SEND_WINDOW } from '../protocol/constants.js';
import { percentile } from '../bench/lib.js';

const FLOODERS = ['flood1', 'flood2', 'flood3'];
const MAILBOX = 64; // background may hold 32 of it

interface Ask { ms: number; id: number; qos: string }

/** `outheis send <to> <kind> <body> --wait --json [...extra]`: the reply. */
function ask<T>(d: Daemon, to: string, kind: string, body: unknown = {}, extra: string[] = []): T {
  const r = d.cli(['send', to, kind, JSON.stringify(body), '--wait', '--json', ...extra]);
  assert.equal(r.code, 0, `send ${to} ${kind}: ${r.stderr}${r.stdout}`);
  return (JSON.parse(r.stdout) as { reply: T }).reply;
}

/** The operator's interactive request, timed as the operator sees it: the CLI's whole run. */
function cliAsk(d: Daemon): Ask {
  const t = performance.now();
  const reply = ask<{ id: number; qos: string }>(d, 'service', 'ask', {}, ['--qos', 'interactive']);
  return { ms: performance.now() - t, ...reply };
}

const probe = (d: Daemon, n: number): Ask[] => ask<Ask[]>(d, 'asker', 'probe', { n });

/** Accept records for the service, in journal (admission) order. */
async function acceptOrder(d: Daemon): Promise<{ id: number; kind: string }[]> {
  const out: { id: number; kind: string }[] = [];
  await scanRecords(join(d.stateDir, 'journal'), { seq: 0 }, {
    match: (r) => r.type === 'accept' && r.to === 'service',
    onRecord: (r) => out.push({ id: r.id as number, kind: r.kind as string }),
  });
  return out;
}

test('under a background flood that fills its share, interactive requests are admitted at once and answered first; flooders are held, not faulted', async (t) => {
  const d = await startDaemon([
    'agents:',
    `  service: { run: ${fixture('prio-service.js')}, args: ['500'], qos: user, limits: { mailbox: ${MAILBOX} } }`,
    ...FLOODERS.map((f) => `  ${f}: { run: ${fixture('prio-flood.js')}, qos: background, pledge: [send:service] }`),
    `  asker: { run: ${fixture('prio-asker.js')}, qos: interactive, pledge: [send:service] }`,
  ], { waitReady: ['service', ...FLOODERS, 'asker'] });
  t.after(() => stop(d, 'SIGKILL'));

  const idleCli = [cliAsk(d), cliAsk(d), cliAsk(d)];
  const idleAgent = probe(d, 20);

  const pids = Object.fromEntries(FLOODERS.map((f) => [f, ask<{ pid: number }>(d, f, 'flood').pid]));
  // The flood has taken all background may hold of the mailbox: from here on background sends park.
  await until('the service mailbox to hold background\'s share', () => (agentOf(d, 'service').mailbox >= MAILBOX / 2 ? true : undefined), 30000);

  const floodCli = [cliAsk(d), cliAsk(d), cliAsk(d)];
  const floodAgent = probe(d, 20);

  for (const f of FLOODERS) ask(d, f, 'halt');
  const stats = FLOODERS.map((f) => ask<{ accepted: number; refused: number; mostOutstanding: number; errors: string[]; pid: number }>(d, f, 'stats'));
  const status = d.cliJson<StatusResult>(['status']);

  // Held, not faulted: more outstanding than the window (the SDK held the rest), none refused, same process.
  for (const [i, f] of FLOODERS.entries()) {
    assert.ok(stats[i]!.mostOutstanding > SEND_WINDOW, `${f} ran its window full (${stats[i]!.mostOutstanding} outstanding)`);
    assert.deepEqual([stats[i]!.refused, stats[i]!.errors], [0, []], `${f} had nothing refused`);
    const now = status.agents.find((a) => a.name === f)!;
    assert.deepEqual([stats[i]!.pid, now.restarts, now.state], [pids[f], 0, 'running'], `${f} was never stopped for flooding`);
  }

  // Admitted at once: each flood-time ask was journaled (accepted) ahead of background
  // sends that were sent, and parked, before it (lower ids, accepted after it).
  const order = await acceptOrder(d);
  const overtakenAtAdmission = (id: number) => {
    const at = order.findIndex((a) => a.id === id);
    assert.ok(at >= 0, `ask #${id} is in the journal`);
    return order.slice(at + 1).filter((a) => a.kind === 'bg' && a.id < id).length;
  };
  // Answered first: the service handled it before background messages queued before it.
  const overtakenInService = async (id: number) => {
    const r = ask<{ found: boolean; overtook: number }>(d, 'service', 'overtaken', { id });
    assert.ok(r.found, `service handled ask #${id}`);
    return r.overtook;
  };
  for (const ask of [floodCli[0]!, floodAgent[0]!]) {
    assert.equal(ask.qos, 'interactive');
    assert.ok(overtakenAtAdmission(ask.id) > 0, `ask #${ask.id} was admitted past parked background sends`);
    assert.ok((await overtakenInService(ask.id)) > 0, `ask #${ask.id} was handled before background work queued ahead of it`);
  }

  const p99 = (xs: Ask[]) => percentile(xs.map((x) => x.ms).sort((a, b) => a - b), 99);
  const med = (xs: Ask[]) => percentile(xs.map((x) => x.ms).sort((a, b) => a - b), 50);
  t.diagnostic(`agent request p99: idle ${p99(idleAgent).toFixed(1)} ms, flood ${p99(floodAgent).toFixed(1)} ms, ratio ${(p99(floodAgent) / p99(idleAgent)).toFixed(2)}x`);
  t.diagnostic(`CLI send --wait --qos interactive median: idle ${med(idleCli).toFixed(0)} ms, flood ${med(floodCli).toFixed(0)} ms, ratio ${(med(floodCli) / med(idleCli)).toFixed(2)}x`);
  t.diagnostic(`background accepted during the flood: ${stats.map((s) => s.accepted).join(', ')}`);
});
