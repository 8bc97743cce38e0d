// A throwaway nats-server, for the peer rows of the bench and for the cluster tests:
// loopback only, a port the kernel picks (or the one given, to come back on after a
// kill), JetStream's store in a temp dir (or the one given, to keep across a restart).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forEachLine } from '../../logs/lines.js';
import { which } from '../../policies/machine.js';

/** The nats-server binary, if installed (Debian puts it in /usr/sbin, which `which` also looks in). */
export const natsServerPath = (): string | undefined => which('nats-server');

export interface NatsServer {
  pid: number;
  url: string;
  port: number;
  /** JetStream's store directory. */
  store: string;
  /** SIGTERM (or the signal given), then wait for the exit; the store goes only when it was ours and `keep` is not set. */
  stop(opts?: { signal?: NodeJS.Signals; keep?: boolean }): Promise<void>;
}

export interface NatsServerOptions {
  /** Listen here; default: a free port the kernel picks. */
  port?: number;
  /** Keep JetStream's store here (it is not removed on stop); default: a temp dir removed on stop. */
  store?: string;
}

/** Starts nats-server with JetStream (file store); resolves once it listens. */
export async function startNatsServer(bin: string, opts: NatsServerOptions = {}): Promise<NatsServer> {
  const store = opts.store ?? mkdtempSync(join(tmpdir(), 'outheis-bench-nats-'));
  const proc = spawn(bin, ['-a', '127.0.0.1', '-p', String(opts.port ?? -1), '-js', '-sd', store], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  // `-p -1` lets the kernel pick the port; the server says which in its log (stderr).
  const url = await new Promise<string>((resolve, reject) => {
    const tail: string[] = [];
    forEachLine(proc.stderr!, 1 << 16, (line) => {
      tail.push(line);
      const m = /Listening for client connections on (\S+:\d+)/.exec(line);
      if (m) resolve(`nats://${m[1]}`);
    });
    proc.once('error', reject);
    void exited.then(() => reject(new Error(`nats-server exited before listening:\n${tail.slice(-5).join('\n')}`)));
  });
  return {
    pid: proc.pid!,
    url,
    port: Number(/:(\d+)$/.exec(url)![1]),
    store,
    stop: async ({ signal = 'SIGTERM', keep = false } = {}) => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
      if (!opts.store && !keep) rmSync(store, { recursive: true, force: true });
    },
  };
}
