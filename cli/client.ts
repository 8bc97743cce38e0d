// The CLI's side of the control socket: connect, send one JSON line, read replies.
import { connect, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { stateDirOf } from '../supervisor/config/index.js';
import { stateFiles } from '../supervisor/control/state-dir.js';
import type { Reply, Request } from '../supervisor/control/protocol.js';
import { configPath } from './config-arg.js';

/** The supervisor refused a request, or is not there to ask: exit 1 with this message. */
export class ClientError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

export interface Target { stateDir?: string; config?: string }

/** --state-dir, else the state_dir the config names. */
export function stateDirFor(args: Target): string {
  if (args.stateDir) return resolve(args.stateDir);
  return stateDirOf(configPath(args.config));
}

function connectError(err: NodeJS.ErrnoException, dir: string, path: string): ClientError {
  switch (err.code) {
    case 'ENOENT':
      return new ClientError('ENOTRUNNING', `no supervisor is running on ${dir} (no control socket at ${path}); start one with 'outheis start'`);
    case 'ECONNREFUSED':
      return new ClientError('ENOTRUNNING', `no supervisor is running on ${dir}: ${path} is a stale socket (the last supervisor did not shut down cleanly; the next start replaces it)`);
    case 'EACCES':
    case 'EPERM':
      return new ClientError('EACCES', `permission denied on ${path}: only the user that runs the supervisor may use its control socket`);
    default:
      return new ClientError(err.code ?? 'EIO', `cannot reach the supervisor on ${path}: ${err.message}`);
  }
}

/** One connection, any number of requests over it (top keeps one open). */
export class ControlClient {
  private nextId = 1;
  private buffered = '';
  private readonly waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private closedError: Error | undefined;

  private constructor(private readonly sock: Socket, readonly dir: string) {
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => this.read(chunk));
    const fail = (err: Error) => {
      this.closedError ??= err;
      for (const w of this.waiting.values()) w.reject(this.closedError);
      this.waiting.clear();
    };
    sock.on('error', (err) => fail(new ClientError('EIO', `lost the supervisor: ${err.message}`)));
    sock.on('close', () => fail(new ClientError('ECLOSED', 'the supervisor closed the connection (it is stopping, or stopped)')));
  }

  static connect(dir: string): Promise<ControlClient> {
    const path = stateFiles(dir).socket;
    return new Promise((resolveConn, reject) => {
      const sock = connect(path);
      sock.once('connect', () => {
        sock.removeAllListeners('error');
        resolveConn(new ControlClient(sock, dir));
      });
      sock.once('error', (err) => reject(connectError(err, dir, path)));
    });
  }

  private read(chunk: string): void {
    this.buffered += chunk;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      let reply: Reply;
      try {
        reply = JSON.parse(line) as Reply;
      } catch {
        continue; // not ours to fix; the waiting request times out or the socket closes
      }
      const w = reply.id !== undefined ? this.waiting.get(reply.id) : undefined;
      if (!w) continue;
      this.waiting.delete(reply.id!);
      w.resolve(reply);
    }
  }

  /** Send a request; resolves with its result, rejects with a ClientError carrying the supervisor's error code. */
  async call<T>(req: Request): Promise<T> {
    if (this.closedError) throw this.closedError;
    const id = this.nextId++;
    const reply = await new Promise<Reply>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.sock.write(JSON.stringify({ ...req, id }) + '\n');
    });
    if (!reply.ok) throw new ClientError(reply.error.code, reply.error.message);
    return reply.result as T;
  }

  close(): void {
    this.sock.end();
  }
}

/** Connect, ask once, disconnect. */
export async function ask<T>(args: Target, req: Request): Promise<T> {
  const client = await ControlClient.connect(stateDirFor(args));
  try {
    return await client.call<T>(req);
  } finally {
    client.close();
  }
}
