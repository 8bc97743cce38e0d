// Launching one sandboxed command line, for the supervisor (an agent) and for the
// doctor (its probe) alike: what the doctor proves is then what agents get. The
// hardening steps read as a list: a scrubbed environment, stdio and at most the
// channel on fd 3 (nothing else inherited), a process group of its own; and the
// way back: the sandboxed node's host pid, and a signal to the whole group.
import { spawn } from 'node:child_process';
import { readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { constants } from 'node:os';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { ENV } from '../protocol/constants.js';
import { splitEnvEntry } from './manifest.js';
import { statFields } from './proc-stat.js';

export interface LaunchSpec {
  name: string;
  /** The whole command line, hardening chain included (policies/sandbox.ts): argv[0] is the program. */
  argv: string[];
  /** The command runs in a pid namespace (bubblewrap): node is a grandchild of the spawned pid. */
  namespaced: boolean;
  cwd: string;
  /** The manifest's `env`: `NAME` passes the supervisor's value through, `NAME=value` sets one. */
  env: string[];
  /** Values read from the manifest's env_file at this spawn; they win over `env`, as systemd's EnvironmentFile= does. */
  envFile?: Readonly<Record<string, string>>;
  heartbeatMs: number;
  maxFrame: number;
  /** A channel on fd 3 (agents speak the wire there; the doctor's probe speaks none). */
  channel: boolean;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Launched {
  pid: number;
  channel: Socket | undefined;
  stdout: Readable;
  stderr: Readable;
  /** The process's own exit; bubblewrap's 128+n is reported as the signal. */
  exited: Promise<ExitInfo>;
  /** Signal the whole process group: the agent and anything it started. */
  signal(sig: NodeJS.Signals): void;
  /** The node process itself, once known: inside a sandbox it is not `pid` (see findSandboxedNode). */
  agentPid: number | undefined;
}

export function agentEnv(spec: Pick<LaunchSpec, 'name' | 'env' | 'envFile' | 'heartbeatMs' | 'maxFrame'>, source: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  // 1. only what the manifest names or sets; everything else is scrubbed. The values go
  // to the child through execve alone: never into the supervisor's own environment.
  for (const entry of spec.env) {
    const { name, value } = splitEnvEntry(entry);
    const v = value ?? source[name];
    if (v !== undefined) env[name] = v;
  }
  Object.assign(env, spec.envFile);
  // 2. what the SDK needs, which the agent cannot override
  env[ENV.name] = spec.name;
  env[ENV.heartbeat] = String(spec.heartbeatMs);
  env[ENV.maxFrame] = String(spec.maxFrame);
  // msgpackr's optional native addon would be loaded in every agent for no gain on small frames
  env.MSGPACKR_NATIVE_ACCELERATION_DISABLED = 'true';
  return env;
}

export function launch(spec: LaunchSpec): Launched {
  const [file, ...args] = spec.argv;
  // node's spawn, not execa's: an agent lives long and its output is streamed, never
  // collected, so execa's per-subprocess machinery (promises, abort controllers,
  // stream generators: ~40 live objects per agent) would buy nothing here.
  const child = spawn(file!, args, {
    cwd: spec.cwd,
    env: agentEnv(spec),
    // stdin closed; stdout/stderr captured; fd 3 is the channel. Node opens every
    // other fd close-on-exec, and closeInheritedFds() handled the inherited ones.
    stdio: spec.channel ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
    // setsid(): a process group of its own, so a stop reaches its grandchildren too
    detached: true,
  });
  // A spawn that fails (ENOENT, EAGAIN, ENOMEM) has no pid and emits 'error' later; the caller logs and restarts by policy.
  child.on('error', () => undefined);
  const pid = child.pid;
  if (pid === undefined) throw new Error('the agent process could not be spawned');
  const channel = spec.channel ? (child.stdio[3] as unknown as Socket) : undefined;
  const proc: Launched = { pid, channel, stdout: child.stdout!, stderr: child.stderr!, exited: undefined!, signal: () => undefined, agentPid: spec.namespaced ? undefined : pid };
  // A sandboxed agent is in a session of its own (bubblewrap --new-session), so the
  // group signal reaches bubblewrap, whose death takes the sandbox with it
  // (--die-with-parent); the agent itself is signalled too, so that SIGTERM is a
  // graceful stage there as well.
  const signal = (proc.signal = (sig: NodeJS.Signals) => {
    for (const target of [-pid, proc.agentPid !== pid ? proc.agentPid : undefined]) {
      if (target === undefined) continue;
      try {
        process.kill(target, sig);
      } catch {
        // ESRCH: already gone
      }
    }
  });
  // The process's own exit ('exit', not 'close': that also waits for every pipe to
  // close, which a grandchild holding stdout would put off indefinitely).
  proc.exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, sig) => {
      signal('SIGKILL'); // anything it left behind in its group
      // bubblewrap reports a signal death of its child as exit 128+n
      resolve(spec.namespaced && code !== null && code > 128 ? { code: null, signal: signalName(code - 128) ?? null } : { code, signal: sig });
    });
  });
  return proc;
}

const signalName = (n: number): NodeJS.Signals | undefined =>
  (Object.entries(constants.signals) as [NodeJS.Signals, number][]).find(([, num]) => num === n)?.[0];

/**
 * The sandboxed node process: bubblewrap (the spawned pid) forks its namespace's
 * init, which runs node. Found by walking /proc from the spawned pid to the
 * first descendant running this node binary.
 */
export function findSandboxedNode(root: number): number | undefined {
  const node = realpathSync(process.execPath);
  const children = childrenByParent();
  const queue = [...(children.get(root) ?? [])];
  while (queue.length) {
    const pid = queue.shift()!;
    try {
      if (readlinkSync(`/proc/${pid}/exe`) === node) return pid;
    } catch {
      // not ours to read, or gone
    }
    queue.push(...(children.get(pid) ?? []));
  }
  return undefined;
}

/** Every process's children, from one pass over /proc. */
export function childrenByParent(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(statFields(entry)[1]);
      const list = children.get(ppid);
      if (list) list.push(Number(entry));
      else children.set(ppid, [Number(entry)]);
    } catch {
      // exited while we looked
    }
  }
  return children;
}

export function descendantsOf(pid: number, children: Map<number, number[]>): number[] {
  const out: number[] = [];
  const queue = [...(children.get(pid) ?? [])];
  while (queue.length) {
    const p = queue.shift()!;
    out.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return out;
}
