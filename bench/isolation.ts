// What each isolation layer adds to an agent's start, against a bare `node -e 0`:
// the exact command lines the supervisor would run (policies/sandbox.ts), timed
// from spawn to exit of a module that does nothing.
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../supervisor/config/index.js';
import { probeMachine, type Machine } from '../policies/machine.js';
import { planSandbox } from '../policies/sandbox.js';
import { allocateAccounts } from '../policies/users.js';
import { prepareDomains } from '../policies/domains.js';
import { fmt, median, type Row } from './lib.js';

const NOOP = fileURLToPath(new URL('../../bench/agents/noop.mjs', import.meta.url));

function timeOnce(argv: string[], cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { cwd, stdio: ['ignore', 'ignore', 'pipe'], env: {} });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`${argv.slice(0, 3).join(' ')}… exited ${code}: ${err}`))));
  });
}

async function medianStart(argv: string[], cwd: string, rounds: number): Promise<number> {
  await timeOnce(argv, cwd); // page cache warm
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) times.push(await timeOnce(argv, cwd));
  return median(times);
}

export async function startLatencyByLayer(rounds: number): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'outheis-bench-iso-'));
  chmodSync(dir, 0o755);
  const code = join(dir, 'code');
  mkdirSync(code, { mode: 0o755 });
  copyFileSync(NOOP, join(code, 'noop.mjs'));
  chmodSync(join(code, 'noop.mjs'), 0o644);
  const file = join(dir, 'outheis.json');
  writeFileSync(file, '{}');
  const cfg = parseConfig({ state_dir: join(dir, 'state'), agents: { probe: { run: 'code/noop.mjs', unveil: { data: 'rw' }, limits: { nofile: 256, nproc: 64, memory: '256MiB' } } } }, file);
  const real = probeMachine();
  const accounts = real.root ? allocateAccounts([{ name: 'probe' }]) : undefined;
  prepareDomains(cfg, accounts);
  const agent = cfg.agents.probe!;
  const none: Machine = { ...real, root: false, bwrap: undefined, namespaces: false, prlimit: undefined, nice: undefined, setpriv: undefined };
  const plan = (m: Machine) => planSandbox(agent, { config: cfg, machine: m, account: accounts?.get('probe') }).argv;
  const sets: [string, string[]][] = [
    ['node + permission model', plan(none)],
    ['bubblewrap + node', plan({ ...none, bwrap: real.bwrap, namespaces: real.namespaces })],
    [`everything (${real.root ? 'nice, setpriv, ' : 'nice, '}prlimit, bwrap, permission, heap cap)`, plan(real)],
  ];
  const bare = await medianStart([process.execPath, '-e', '0'], dir, rounds);
  const rows: Row[] = [];
  for (const [name, argv] of sets) {
    if (name.startsWith('bubblewrap') && !real.namespaces) continue;
    const ms = await medianStart(argv, dir, rounds);
    const full = name.startsWith('everything');
    rows.push({ metric: `agent start, ${name} (median of ${rounds})`, ours: fmt.ms(ms), base: `${fmt.ms(bare)} node -e 0`, ratio: `+${fmt.ms(ms - bare)}`, target: full ? '<= +40 ms' : 'reported', pass: full ? ms - bare <= 40 : undefined });
  }
  return rows;
}
