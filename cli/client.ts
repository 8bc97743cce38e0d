// The CLI's side of the control socket: connect, send one JSON line, read replies.
import { connect, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { stateDirOf } from '../supervisor/config/index.js';
import { stateFiles } from '../supervisor/control/state-dir.js';
import { firstIssue, replySchema, resultSchemas, type Op, type RequestOf, type ResultOf } from '../supervisor/control/protocol.js';
import { VERSION } from '../supervisor/version.js';
import type { z } from 'zod';
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
  private readonly waiting = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>();
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
      let reply: unknown;
      try {
        reply = JSON.parse(line);
      } catch {
        continue; // not ours to fix; the waiting request times out or the socket closes
      }
      // Routed by its id before anything else is believed of it: call() checks the rest.
      const id = (reply as { id?: unknown } | null)?.id;
      const w = typeof id === 'number' ? this.waiting.get(id) : undefined;
      if (!w) continue;
      this.waiting.delete(id as number);
      w.resolve(reply);
    }
  }

  /**
   * Send a request; resolves with its result, rejects with a ClientError carrying the
   * supervisor's error code, or EBADREPLY naming the field when the reply is not what
   * this version of the protocol says it is.
   */
  async call<O extends Op>(req: RequestOf<O>): Promise<ResultOf<O>> {
    if (this.closedError) throw this.closedError;
    const id = this.nextId++;
    const raw = await new Promise<unknown>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.sock.write(JSON.stringify({ ...req, id }) + '\n');
    });
    const reply = checked(req.op, replySchema, raw);
    if (!reply.ok) throw new ClientError(reply.error.code, reply.error.message);
    checked(req.op, resultSchemas[req.op], reply.result, 'result');
    // Handed on as it came, not as parsed: --json then prints what the supervisor said, fields a newer one added included.
    return reply.result as ResultOf<O>;
  }

  close(): void {
    this.sock.end();
  }
}

/** `value` as `schema` says, or EBADREPLY with the first field that is not. */
function checked<S extends z.ZodType>(op: Op, schema: S, value: unknown, prefix?: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new ClientError('EBADREPLY', `the supervisor's reply to ${op} is not one outheis ${VERSION} understands: ${firstIssue(parsed.error, prefix)} (is the supervisor another version?)`);
}

/** Connect, ask once, disconnect. */
export async function ask<O extends Op>(args: Target, req: RequestOf<O>): Promise<ResultOf<O>> {
  const client = await ControlClient.connect(stateDirFor(args));
  try {
    return await client.call(req);
  } finally {
    client.close();
  }
}
