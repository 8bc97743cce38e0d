// A real `outheis start` for the benches: a config written to a temp dir, the
// supervisor spawned as users run it (the bin's node flags), resolved once the named
// number of agents say ready, with a control client for operator sends and status.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ControlClient } from '../cli/client.js';
import { SUPERVISOR_NODE_FLAGS } from '../cli/node-flags.js';
import { forEachLine } from '../logs/lines.js';
import type { StatusResult } from '../supervisor/control/protocol.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

/** A bench agent's file (bench/agents/, beside the sources: dist/ holds no .js agents of the bench's). */
export const benchAgent = (file: string): string => fileURLToPath(new URL(`../../bench/agents/${file}`, import.meta.url));

export interface Supervisor {
  pid: number;
  stateDir: string;
  /** The operator's `send --wait`: the reply's body. */
  send<T>(to: string, kind: string, body?: unknown): Promise<T>;
  status(): Promise<StatusResult>;
  stop(): Promise<void>;
}

/**
 * Starts `outheis start -c <config>` with `config` (state_dir filled in) and waits for
 * `agents` ready lines. Extra supervisor node flags (a profiler) from
 * OUTHEIS_BENCH_SUPERVISOR_FLAGS. An exit before ready rejects instead of hanging the bench.
 */
export async function startSupervisor(config: Record<string, unknown>, agents: number, tag = 'route'): Promise<Supervisor> {
  const dir = mkdtempSync(join(tmpdir(), `outheis-bench-${tag}-`));
  const file = join(dir, 'outheis.json');
  const stateDir = join(dir, 'state');
  writeFileSync(file, JSON.stringify({ state_dir: stateDir, ...config }));
  const extra = process.env.OUTHEIS_BENCH_SUPERVISOR_FLAGS?.split(' ').filter(Boolean) ?? [];
  const sup = spawn(process.execPath, [...SUPERVISOR_NODE_FLAGS, ...extra, CLI, 'start', '-c', file], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, OUTHEIS_LOG_LEVEL: 'info' } });
  const exited = new Promise<void>((resolve) => sup.once('exit', () => resolve()));
  let ready = 0;
  await new Promise<void>((resolve, reject) => {
    forEachLine(sup.stdout!, 1 << 20, (line) => {
      if (line.includes('"msg":"ready"') && ++ready === agents) resolve();
    });
    void exited.then(() => reject(new Error(`outheis start -c ${file} exited before ${agents} agents were ready`)));
  });
  const client = await ControlClient.connect(stateDir, { answerMs: 60_000 });
  return {
    pid: sup.pid!,
    stateDir,
    send: async <T>(to: string, kind: string, body: unknown = {}): Promise<T> =>
      ((await client.call({ op: 'send', to, kind, body, wait: true, timeout: 300_000 } as never, { long: true })) as { reply: T }).reply,
    status: async () => (await client.call({ op: 'status' } as never)) as unknown as StatusResult,
    stop: async () => {
      client.close();
      if (sup.exitCode === null && sup.signalCode === null) sup.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
