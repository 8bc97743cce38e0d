// Spawning one agent: the sandboxed launch (policies/spawn.ts: scrubbed environment,
// its own process group, fd 3 the only channel), plus what the supervisor needs of
// the wire: the channel gets a moment to deliver the agent's last frames.
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { launch, type ExitInfo, type LaunchSpec } from '../policies/spawn.js';

export type { ExitInfo };

export type SpawnSpec = Omit<LaunchSpec, 'channel'>;

export interface AgentProcess {
  pid: number;
  channel: Socket;
  stdout: Readable;
  stderr: Readable;
  exited: Promise<ExitInfo>;
  /** Signal the whole process group: the agent and anything it started. */
  signal(sig: NodeJS.Signals): void;
  /** The node process itself, once known: inside a sandbox it is not `pid` (see findSandboxedNode). */
  agentPid: number | undefined;
}

/** How long an exited agent's channel may take to deliver its last frames. */
const CHANNEL_DRAIN_MS = 200;

export function spawnAgent(spec: SpawnSpec): AgentProcess {
  const launched = launch({ ...spec, channel: true });
  const channel = launched.channel!;
  // Let the channel deliver what the agent wrote last (acks, replies), briefly.
  const exited = launched.exited.then((info) => new Promise<ExitInfo>((resolve) => {
    if (channel.readableEnded || channel.destroyed) return resolve(info);
    const timer = setTimeout(() => resolve(info), CHANNEL_DRAIN_MS);
    channel.once('close', () => {
      clearTimeout(timer);
      resolve(info);
    });
  }));
  // The same object, not a copy: its signal() reads agentPid, which the supervisor fills in later.
  return Object.assign(launched, { channel, exited });
}
