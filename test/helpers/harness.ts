// Real supervisors over real processes, for tests. No mocks: every agent here is a
// Node child process speaking the wire on fd 3.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../logs/logger.js';
import { parseConfig } from '../../supervisor/config/index.js';
import { Supervisor } from '../../supervisor/supervisor.js';
import { readableByOthers } from '../../policies/sandbox.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
let fixturesForOthers: string | undefined;

/**
 * A test agent's entry file. Agents run under uids of their own, which must reach
 * their code: from a clone out of their reach (under /root), the fixtures are
 * copied once to a world-readable temp dir.
 */
export function fixture(name: string): string {
  const path = join(FIXTURES, name);
  if (process.getuid?.() !== 0 || readableByOthers(path)) return path;
  if (!fixturesForOthers) {
    fixturesForOthers = tempDir('outheis-fixtures-');
    chmodSync(fixturesForOthers, 0o755);
    cpSync(FIXTURES, fixturesForOthers, { recursive: true });
    // The SDK beside them, so that `import 'outheis/worker'` resolves with or without a sandbox.
    const sdk = join(fixturesForOthers, 'node_modules/outheis');
    for (const part of ['package.json', 'dist/workers', 'dist/protocol']) cpSync(join(ROOT, part), join(sdk, part), { recursive: true });
    cpSync(join(ROOT, 'node_modules/msgpackr'), join(fixturesForOthers, 'node_modules/msgpackr'), { recursive: true });
    execFileSync('chmod', ['-R', 'a+rX', fixturesForOthers]);
  }
  return join(fixturesForOthers, name);
}
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(ROOT, 'dist/cli/main.js');

export interface Recorded {
  event: string;
  agent: string;
  at: number;
  data?: unknown;
}

export interface Harness {
  sup: Supervisor;
  dir: string;
  events: Recorded[];
  waitFor(pred: (e: Recorded) => boolean, timeoutMs?: number, what?: string): Promise<Recorded>;
  count(event: string, agent?: string): number;
  stop(): Promise<number>;
}

export function tempDir(prefix = 'outheis-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Build and start a supervisor from a raw config object (as it would be parsed from YAML). */
export function startSupervisor(raw: Record<string, unknown>): Harness {
  const dir = tempDir();
  const file = join(dir, 'outheis.json');
  writeFileSync(file, JSON.stringify(raw));
  const cfg = parseConfig({ state_dir: join(dir, 'state'), ...raw }, file);
  const sup = new Supervisor(cfg, { log: silentLogger() });
  const events: Recorded[] = [];
  const waiters: { pred: (e: Recorded) => boolean; resolve: (e: Recorded) => void }[] = [];
  const record = (event: string) => (agent: string, data?: unknown) => {
    const e = { event, agent, at: Date.now(), data };
    events.push(e);
    for (const w of [...waiters]) if (w.pred(e)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(e); }
  };
  for (const ev of ['spawn', 'ready', 'exit', 'restart', 'fault', 'escalate', 'removed']) sup.on(ev, record(ev));
  sup.start();
  return {
    sup, dir, events,
    waitFor(pred, timeoutMs = 15000, what = 'event') {
      const hit = events.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve: (e: Recorded) => { clearTimeout(timer); resolve(e); } };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`timed out waiting for ${what}; events: ${events.map((e) => `${e.event}:${e.agent}`).join(' ')}`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    count: (event, agent) => events.filter((e) => e.event === event && (agent === undefined || e.agent === agent)).length,
    stop: () => sup.halt(0),
  };
}

/** Wait until the n-th event matching pred has happened. */
export async function waitCount(h: Harness, pred: (e: Recorded) => boolean, n: number, timeoutMs = 15000): Promise<void> {
  await until(() => `${n} events; have ${h.events.filter(pred).length}: ${h.events.map((e) => `${e.event}:${e.agent}`).join(' ')}`,
    () => (h.events.filter(pred).length >= n ? true : undefined), timeoutMs);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Is this pid alive (and not a zombie)? */
export function alive(pid: number): boolean {
  try {
    const stat = execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    return stat !== '' && !stat.startsWith('Z');
  } catch {
    return false; // ps exits 1 when there is no such process
  }
}

/**
 * Every live process whose command line mentions `marker` (ps, as an operator would
 * check); with `below`, only those descended from that pid (not other runs' processes).
 */
export function processesMatching(marker: string, opts: { below?: number } = {}): string[] {
  const out = execFileSync('ps', ['-eo', 'pid=,stat=,args='], { encoding: 'utf8' });
  const lines = out.split('\n').filter((l) => l.includes(marker) && !/\bps -eo\b/.test(l) && !/^\s*\d+\s+Z/.test(l));
  if (opts.below === undefined) return lines;
  const children = new Map<number, number[]>();
  for (const row of execFileSync('ps', ['-eo', 'pid=,ppid='], { encoding: 'utf8' }).trim().split('\n')) {
    const [pid, ppid] = row.trim().split(/\s+/).map(Number) as [number, number];
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const below = new Set<number>();
  const todo = [opts.below];
  while (todo.length) {
    for (const child of children.get(todo.pop()!) ?? []) {
      if (!below.has(child)) {
        below.add(child);
        todo.push(child);
      }
    }
  }
  return lines.filter((l) => below.has(Number(l.trim().split(/\s+/)[0])));
}

/** Zombie children of this process: exited but never reaped. */
export function zombieChildren(): string[] {
  let out: string;
  try {
    out = execFileSync('ps', ['-o', 'pid=,stat=,args=', '--ppid', String(process.pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return []; // ps exits 1 when there is no child at all
  }
  return out.split('\n').filter((l) => /^\s*\d+\s+Z/.test(l));
}

export function agentOrder(h: Harness, event: string): string[] {
  return h.events.filter((e) => e.event === event).map((e) => e.agent);
}

let copyForOthers: string | undefined;

/**
 * The CLI as another (unprivileged) user can run it. A clone under /root is out of
 * such a user's reach; then the built package (package.json, dist, node_modules,
 * the doctor's probe) is copied once to a world-readable temp dir, and that copy's
 * CLI is what runs. Rootless tests need this, not a skip.
 */
export function cliReadableBy(user: string): string {
  const probe = spawnSync('setpriv', [`--reuid=${user}`, '--regid=nogroup', '--clear-groups', 'test', '-r', CLI]);
  if (probe.status === 0) return CLI;
  if (!copyForOthers) {
    const dir = tempDir('outheis-pkg-');
    chmodSync(dir, 0o755);
    for (const part of ['package.json', 'dist', 'node_modules', 'policies']) cpSync(join(ROOT, part), join(dir, part), { recursive: true });
    copyForOthers = dir;
  }
  return join(copyForOthers, 'dist/cli/main.js');
}

/**
 * The one polling helper of the tests: call `probe` until it returns something
 * other than undefined, and resolve with that. The probe may be async, and may
 * throw to give up at once (a process that died). `what` names the condition in
 * the timeout's error; a function is called then, to say how far things got.
 */
export async function until<T>(what: string | (() => string), probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 20000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(everyMs);
  }
}
