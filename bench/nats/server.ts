// A throwaway nats-server for the peer rows: loopback only, a port the kernel picks,
// JetStream's store in a temp dir that goes when the server does.
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
  stop(): Promise<void>;
}

/** Starts nats-server with JetStream (file store in a temp dir); resolves once it listens. */
export async function startNatsServer(bin: string): Promise<NatsServer> {
  const store = mkdtempSync(join(tmpdir(), 'outheis-bench-nats-'));
  const proc = spawn(bin, ['-a', '127.0.0.1', '-p', '-1', '-js', '-sd', store], { stdio: ['ignore', 'ignore', 'pipe'] });
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
    stop: async () => {
      proc.kill('SIGTERM');
      await exited;
      rmSync(store, { recursive: true, force: true });
    },
  };
}
