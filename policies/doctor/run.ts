// One probe run: the probe (policies/probe.mjs) is launched exactly as the
// supervisor launches an agent (policies/spawn.ts), reports one JSON line, and is
// read from outside (proc.ts) while it still runs; then it is stopped the way an
// agent is stopped, by signalling its group.
import { existsSync, rmSync, statSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { findSandboxedNode, launch, type ExitInfo, type Launched, type LaunchSpec } from '../spawn.js';
import { codeOf, readOutside, type Outside } from './proc.js';

export interface Attempt { ok: boolean; code?: string; detail?: string }

/** What the probe reports. */
export interface ProbeResults {
  uid: Attempt & { uid: number; gid: number; groups: number[]; pid: number; hostname: string };
  procStatus: Attempt & { status?: Record<string, string> };
  shadow: Attempt;
  passwd: Attempt;
  root: Attempt & { entries?: string[] };
  connect: Attempt;
  spawn: Attempt;
  worker: Attempt;
  writeOutside: Attempt;
  writeData: Attempt;
  heap: Attempt & { heapSizeLimit: number };
  env: Attempt & { keys: string[]; secret: boolean; pwdIsCwd: boolean };
  fds: Attempt & { open: { fd: number; type: string }[] };
  limits: Attempt;
  nofile: Attempt & { opened: number; highest?: number };
}

export interface ProbeRun {
  results?: ProbeResults;
  outside?: Outside;
  /** Why there are no results. */
  error?: string;
  exit?: ExitInfo;
  /** The host path written outside `data`, left there by the probe (it must not be). */
  planted: boolean;
  /** The file the probe wrote in `data`, as the host sees it. */
  dataFile?: { uid: number; gid: number };
}

export interface RunSpec {
  launch: LaunchSpec;
  timeoutMs: number;
  outsideFile: string;
  dataFile: string;
}

/** Resolves with the promise's value, or undefined after `ms`; never leaves a timer behind. */
export function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    p.then((v) => {
      clearTimeout(timer);
      resolve(v);
    }, () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}

export function listen(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

/** The doctor's own connection to its listener: a refusal inside proves nothing if this fails too. */
export function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 2000);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The first line of output, or undefined at the end of output or after `ms`. */
function firstLine(probe: Launched, ms: number): Promise<{ line: string | undefined; timedOut: boolean }> {
  let stdout = '';
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(undefined, true), ms);
    const onData = (c: string) => {
      stdout += c;
      const nl = stdout.indexOf('\n');
      if (nl >= 0) finish(stdout.slice(0, nl), false);
    };
    function finish(line: string | undefined, timedOut: boolean) {
      clearTimeout(timer);
      probe.stdout.off('data', onData);
      resolve({ line, timedOut });
    }
    probe.stdout.setEncoding('utf8').on('data', onData);
    probe.stdout.once('close', () => finish(undefined, false));
  });
}

export async function runProbe(spec: RunSpec): Promise<ProbeRun> {
  rmSync(spec.outsideFile, { force: true });
  rmSync(spec.dataFile, { force: true });
  const run: ProbeRun = { planted: false };
  let probe: Launched | undefined;
  try {
    probe = launch(spec.launch);
  } catch (err) {
    run.error = `the probe did not report (${spec.launch.argv[0] ?? '(nothing)'}: ${codeOf(err)})`;
  }
  if (probe) await watch(probe, spec, run);
  run.planted = existsSync(spec.outsideFile);
  const st = statSync(spec.dataFile, { throwIfNoEntry: false });
  if (st) run.dataFile = { uid: st.uid, gid: st.gid };
  return run;
}

async function watch(probe: Launched, spec: RunSpec, run: ProbeRun): Promise<void> {
  let stderr = '';
  probe.stderr.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-4000)));
  const { line, timedOut } = await firstLine(probe, spec.timeoutMs);
  if (line !== undefined) {
    try {
      run.results = JSON.parse(line) as ProbeResults;
    } catch {
      run.error = `the probe printed something that is not its report: ${line.slice(0, 200)}`;
    }
    if (probe.agentPid === undefined) probe.agentPid = findSandboxedNode(probe.pid);
    if (probe.agentPid !== undefined) run.outside = readOutside(probe.agentPid);
  }
  // Let it go as the supervisor stops an agent: SIGTERM once it has reported (it
  // exits 0 on it), SIGKILL when it never did; SIGKILL too when SIGTERM is not enough.
  probe.signal(line !== undefined && probe.agentPid !== undefined ? 'SIGTERM' : 'SIGKILL');
  let exit = await within(probe.exited, spec.timeoutMs);
  if (!exit) {
    probe.signal('SIGKILL');
    exit = await within(probe.exited, 2000);
  }
  run.exit = exit;
  if (!run.results && !run.error) {
    const why = timedOut ? `no report in ${spec.timeoutMs} ms; killed` : `exit ${exit?.code ?? exit?.signal}`;
    const tail = stderr.trim().split('\n').filter(Boolean).slice(-2).join(' / ');
    run.error = `the probe did not report (${why})${tail ? `: ${tail}` : ''}`;
  }
}
