// A real `outheis start` in a child process, and the real CLI against it.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentStatusJson, StatusResult } from '../../supervisor/control/protocol.js';
import { CLI, cliReadableBy, fixture, tempDir, until } from './harness.js';

export interface CliResult { code: number | null; stdout: string; stderr: string }

export interface Daemon {
  dir: string;
  file: string;
  stateDir: string;
  proc: ChildProcess;
  /** Everything it printed so far. */
  out(): string;
  /** Wait until what it printed matches. */
  printed(pattern: RegExp, timeoutMs?: number): Promise<void>;
  cli(args: string[], opts?: { env?: NodeJS.ProcessEnv; timeout?: number }): CliResult;
  cliJson<T>(args: string[]): T;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  kill(sig?: NodeJS.Signals): void;
}

/** Write the config (YAML lines) and start a supervisor on it; resolves once its control socket answers. */
/** Run as this (non-root) user instead, through setpriv: the supervisor's rootless mode. */
export const ROOTLESS_USER = 'nobody';
const asUser = (user: string | undefined, argv: string[]): string[] =>
  user ? ['setpriv', `--reuid=${user}`, `--regid=${user === 'nobody' ? 'nogroup' : user}`, '--clear-groups', ...argv] : argv;

export async function startDaemon(lines: string[], opts: { dir?: string; waitReady?: string[]; user?: string; env?: NodeJS.ProcessEnv; wrap?: (argv: string[]) => string[] } = {}): Promise<Daemon> {
  const dir = opts.dir ?? tempDir('outheis-op-');
  const file = join(dir, 'outheis.yaml');
  writeFileSync(file, lines.join('\n') + '\n');
  const stateDir = join(dir, '.outheis');
  if (opts.user) {
    // The user must own what it writes (state, data) and reach the config.
    chmodSync(dir, 0o755);
    execFileSync('chown', ['-R', `${opts.user}:`, dir]);
  }
  const cliPath = opts.user ? cliReadableBy(opts.user) : CLI;
  const argv = (opts.wrap ?? ((a) => a))(asUser(opts.user, [process.execPath, cliPath, 'start', '-c', file]));
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const cli = (args: string[], o: { env?: NodeJS.ProcessEnv; timeout?: number } = {}): CliResult => {
    const cmd = asUser(opts.user, [process.execPath, cliPath, ...args]);
    const r = spawnSync(cmd[0]!, cmd.slice(1), { cwd: dir, encoding: 'utf8', timeout: o.timeout ?? 30000, env: o.env ?? { ...process.env, NO_COLOR: '1' } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const d: Daemon = {
    dir, file, stateDir, proc, exited,
    out: () => out,
    async printed(pattern, timeoutMs = 10000) {
      await until(() => `${pattern} to be printed; got:\n${out}`, () => (pattern.test(out) ? true : undefined), timeoutMs);
    },
    cli,
    cliJson<T>(args: string[]): T {
      const r = cli([...args, '--json']);
      if (r.code !== 0) throw new Error(`outheis ${args.join(' ')} --json exited ${r.code}: ${r.stderr}${r.stdout}`);
      return JSON.parse(r.stdout) as T;
    },
    kill: (sig = 'SIGKILL') => proc.kill(sig),
  };
  const ready = (a: string) => new RegExp(`"msg":"ready".*"agent":"${a}"|"agent":"${a}".*"msg":"ready"`).test(out);
  await until(() => `the supervisor to come up:\n${out}`, () => {
    if (proc.exitCode !== null) throw new Error(`the supervisor exited ${proc.exitCode}:\n${out}`);
    return existsSync(join(stateDir, 'outheis.sock')) && (opts.waitReady ?? []).every(ready) ? true : undefined;
  }, 15000);
  return d;
}

/**
 * One control request by the raw client (test/fixtures/raw-ask.js), not the CLI: for
 * what tests ask often (an agent's state, polled) or by the hundred (attacks), where
 * the CLI's start-up would be most of the time. The CLI is tested in its own tests.
 */
export function rawAsk<T>(d: Daemon, req: object, what = JSON.stringify(req)): T {
  let line: string;
  try {
    line = execFileSync(process.execPath, [fixture('raw-ask.js'), d.stateDir, JSON.stringify(req)], { encoding: 'utf8', timeout: 30_000 });
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}\nsupervisor output:\n${d.out().slice(-4000)}`);
  }
  const r = JSON.parse(line) as { ok: true; result: T } | { ok: false; error: { code: string; message: string } };
  if (!r.ok) throw new Error(`${what}: ${r.error.code}: ${r.error.message}\nsupervisor output:\n${d.out().slice(-4000)}`);
  return r.result;
}

/** One agent's line of `status` (the control socket's, as `status --json` prints it); fails the test if there is none. */
export function agentOf(d: Daemon, name: string): AgentStatusJson {
  const a = rawAsk<StatusResult>(d, { op: 'status' }, 'status').agents.find((x) => x.name === name);
  assert.ok(a, `no agent ${name} in status`);
  return a;
}

/**
 * Stop a supervisor and wait for it to exit; resolves with its exit code.
 * 'cli' (the default) is `outheis stop`, which must succeed and exit 0; a signal
 * is sent as it is. One that has already exited is left as it is.
 */
export async function stop(d: Daemon, how: 'cli' | NodeJS.Signals = 'cli'): Promise<number | null> {
  if (d.proc.exitCode !== null || d.proc.signalCode !== null) return d.exited;
  if (how !== 'cli') {
    d.kill(how);
    return d.exited;
  }
  const r = d.cli(['stop']);
  assert.equal(r.code, 0, `outheis stop: ${r.stderr}${r.stdout}`);
  const code = await d.exited;
  assert.equal(code, 0, 'a graceful stop exits 0');
  return code;
}

export type Outcome<T> = { ok: true; reply: T } | { ok: false; error: string };

/**
 * `send <to> <kind> <body> --wait` as the operator, without blocking this process (a
 * stub model answering from it must keep running): by the raw client (see rawAsk), as
 * the agents' tests ask dozens of times. `seen` collects the reply lines as they came.
 */
export function sendAsync<T>(d: Daemon, to: string, kind: string, body: unknown, seen?: string[]): Promise<Outcome<T>> {
  const req = { op: 'send', to, kind, body, wait: true, timeout: 60_000 };
  return new Promise((resolve) => {
    execFile(process.execPath, [fixture('raw-ask.js'), d.stateDir, JSON.stringify(req)], { encoding: 'utf8', timeout: 90_000 }, (err, stdout, stderr) => {
      seen?.push(stdout, stderr);
      if (err) return resolve({ ok: false, error: `${err.message}${stderr}` });
      const r = JSON.parse(stdout) as { ok: true; result: { reply: T } } | { ok: false; error: { code: string; message: string } };
      resolve(r.ok ? { ok: true, reply: r.result.reply } : { ok: false, error: `${r.error.code}: ${r.error.message}` });
    });
  });
}

/** The reply of a send that must succeed. */
export async function replyOf<T>(p: Promise<Outcome<T>>): Promise<T> {
  const r = await p;
  assert.ok(r.ok, `expected a reply, got: ${r.ok ? '' : r.error}`);
  return r.reply;
}

/** The uid an agent runs under (each agent has its own when the supervisor is root). */
export function uidOf(d: Daemon, name: string): number {
  return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${agentOf(d, name).pid}/status`, 'utf8'))![1]);
}
