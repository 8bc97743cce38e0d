// The journal removed (or replaced, or renamed away, or its tail unlinked) under a
// running supervisor: found at the next commit, recreated loudly, what is owed
// carried into the new one from memory, and message ids unique across the run
// before, the run after the loss, and the run after a crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { readRecords } from '../logs/journal/recover.js';
import type { AnyRecord } from '../logs/journal/schema.js';
import { listSegments } from '../logs/journal/segment.js';
import { idFloor } from '../logs/journal/state.js';
import { unpackValue } from '../protocol/frame.js';
import type { StatusResult } from '../supervisor/control/protocol.js';
import { fixture, tempDir } from './helpers/harness.js';
import { startDaemon, stop, type Daemon } from './helpers/daemon.js';

async function records(jdir: string): Promise<AnyRecord[]> {
  const out: AnyRecord[] = [];
  for await (const r of readRecords(jdir)) out.push(r as AnyRecord);
  return out;
}

/** Message id by body.n, of the operator's `record` messages to echo the journal holds. */
async function idsByN(jdir: string): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const r of await records(jdir)) {
    if (r.type !== 'accept' || r.to !== 'echo' || r.kind !== 'record') continue;
    out.set((unpackValue(r.body) as { n: number }).n, r.id);
  }
  return out;
}

const send = (d: Daemon, to: string, n: number): void => {
  const r = d.cli(['send', to, 'record', JSON.stringify({ n })]);
  assert.equal(r.code, 0, `send n=${n}: ${r.stderr}${r.stdout}`);
};

const LOSSES = {
  'removed (rm -rf)': (jdir: string) => rmSync(jdir, { recursive: true, force: true }),
  'replaced by a fresh empty directory': (jdir: string) => {
    rmSync(jdir, { recursive: true, force: true });
    mkdirSync(jdir, { mode: 0o700 });
  },
  'renamed away (the files live on elsewhere)': (jdir: string) => renameSync(jdir, `${jdir}.old`),
  'only its current segment unlinked': async (jdir: string) => {
    const segs = await listSegments(jdir);
    unlinkSync(segs[segs.length - 1]!.path);
  },
};

for (const [how, lose] of Object.entries(LOSSES)) {
  test(`the journal ${how} under a running supervisor: recreated loudly, nothing owed or accepted after is lost, ids unique across the loss and a crash`, { timeout: 120_000 }, async () => {
    const dir = tempDir('outheis-loss-');
    chmodSync(dir, 0o755);
    const lines = ['agents:', `  echo: { run: ${fixture('echo.js')} }`, `  other: { run: ${fixture('echo.js')} }`];
    let d = await startDaemon(lines, { dir, waitReady: ['echo', 'other'] });
    const jdir = join(d.stateDir, 'journal');
    const before = Date.now();
    try {
      // Owed at the moment of the loss: a message to a stopped agent.
      assert.equal(d.cli(['stop', 'other']).code, 0);
      send(d, 'other', 100);
      for (const n of [1, 2, 3]) send(d, 'echo', n);
      const phase1 = await idsByN(jdir);
      assert.equal(phase1.size, 3);

      await lose(jdir);
      for (const n of [4, 5, 6]) send(d, 'echo', n);
      await d.printed(/JOURNAL LOST under the running supervisor/);
      const status = d.cliJson<StatusResult>(['status']).supervisor.journal!;
      assert.equal(status.losses?.length, 1, JSON.stringify(status));
      assert.match(status.losses![0]!.reason, /removed|another file/);
      assert.equal(status.losses![0]!.carried, 1, 'the message owed to the stopped agent was carried into the new journal');
      assert.match(d.cli(['status']).stdout, /JOURNAL LOST AND RECREATED 1×/);
      const after = await records(jdir);
      assert.equal(after.find((r) => r.type !== 'accept' || r.carried === undefined)?.type, 'lost', 'the new journal begins with a lost record, then the carried copies');
      const phase2 = await idsByN(jdir);
      assert.deepEqual([4, 5, 6].map((n) => phase2.has(n)), [true, true, true], 'what was accepted after the loss is in the new journal');
      assert.deepEqual([1, 2, 3].map((n) => phase2.has(n)), [false, false, false], 'what was settled before it is not copied');

      await stop(d, 'SIGKILL');
      d = await startDaemon(lines, { dir, waitReady: ['echo', 'other'] });
      for (const n of [7, 8, 9]) send(d, 'echo', n);
      const all = await idsByN(jdir);
      const ids = [1, 2, 3].map((n) => phase1.get(n)!).concat([4, 5, 6, 7, 8, 9].map((n) => all.get(n)!));
      assert.equal(new Set(ids).size, 9, `ids are distinct across the three phases: ${ids.join(' ')}`);
      assert.deepEqual([...ids].sort((a, b) => a - b), ids, 'and increasing');
      assert.ok(ids[0]! > idFloor(before) - 1000 * 60_000, 'ids start from the clock, not from 1');
      // The owed message survived the loss and the crash: the other agent gets it (flagged, after a crash).
      const seen = d.cliJson<{ reply: { body: { n: number }; redelivered: boolean }[] }>(['send', 'other', 'seen', '--wait']).reply;
      assert.deepEqual(seen, [{ body: { n: 100 }, qos: 'interactive', redelivered: true }]);
    } finally {
      await stop(d);
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
