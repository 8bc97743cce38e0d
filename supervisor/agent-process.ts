// Spawning one agent: a separate Node process, its own process group, a scrubbed
// environment, and exactly one channel (fd 3). The hardening steps read as a list.
import { execa } from 'execa';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { ENV } from './wire/protocol.js';

export interface SpawnSpec {
  name: string;
  run: string;
  args: string[];
  cwd: string;
  /** Names of variables to pass through from the supervisor's environment. */
  env: string[];
  heartbeatMs: number;
  maxFrame: number;
  nodeArgs?: string[];
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface AgentProcess {
  pid: number;
  channel: Socket;
  stdout: Readable;
  stderr: Readable;
  exited: Promise<ExitInfo>;
  /** Signal the whole process group: the agent and anything it started. */
  signal(sig: NodeJS.Signals): void;
}

export function agentEnv(spec: SpawnSpec, source: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  // 1. only the variables the manifest names pass through; everything else is scrubbed
  for (const key of spec.env) {
    const value = source[key];
    if (value !== undefined) env[key] = value;
  }
  // 2. what the SDK needs, which the agent cannot override
  env[ENV.name] = spec.name;
  env[ENV.heartbeat] = String(spec.heartbeatMs);
  env[ENV.maxFrame] = String(spec.maxFrame);
  // msgpackr's optional native addon would be loaded in every agent for no gain on small frames
  env.MSGPACKR_NATIVE_ACCELERATION_DISABLED = 'true';
  return env;
}

/** How long an exited agent's channel may take to deliver its last frames. */
const CHANNEL_DRAIN_MS = 200;

export function spawnAgent(spec: SpawnSpec): AgentProcess {
  const child = execa(process.execPath, [...(spec.nodeArgs ?? []), spec.run, ...spec.args], {
    cwd: spec.cwd,
    env: agentEnv(spec),
    extendEnv: false,
    // stdin closed; stdout/stderr captured; fd 3 is the channel. Node opens every
    // other fd close-on-exec, and closeInheritedFds() handled the inherited ones.
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    // setsid(): a process group of its own, so a stop reaches its grandchildren too
    detached: true,
    buffer: false,
    reject: false,
    // we do our own staged termination; execa's would race it
    forceKillAfterDelay: false,
    stripFinalNewline: false,
  });
  const pid = child.pid;
  if (pid === undefined) {
    // execa reports the cause (EAGAIN, ENOMEM) through the promise; the caller logs and restarts by policy
    child.catch(() => undefined);
    throw new Error('the agent process could not be spawned');
  }
  const channel = child.stdio[3] as unknown as Socket;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // ESRCH: the group is already empty
    }
  };
  // The process's own exit, not execa's result: that also waits for every pipe to
  // close, which a grandchild holding stdout would put off indefinitely.
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, sig) => {
      signal('SIGKILL'); // anything it left behind in its group
      const info = { code, signal: sig };
      // Let the channel deliver what the agent wrote last (acks, replies), briefly.
      if (channel.readableEnded || channel.destroyed) return resolve(info);
      const timer = setTimeout(() => resolve(info), CHANNEL_DRAIN_MS);
      channel.once('close', () => {
        clearTimeout(timer);
        resolve(info);
      });
    });
  });
  child.catch(() => undefined); // reject: false; this only guards against the unexpected
  return { pid, channel, stdout: child.stdout!, stderr: child.stderr!, exited, signal };
}
