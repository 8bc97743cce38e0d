// The CLI's side of the control socket: connect, send one JSON line, read replies.
// Every wait is bounded: a supervisor that is stopped (SIGSTOP, Ctrl-Z) still has
// its socket accept connections in the kernel, so without a deadline a verb would
// wait for ever. See `call` for the rule that long verbs follow.
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { stateDirOf } from '../supervisor/config/index.js';
import { stateFiles } from '../supervisor/control/state-dir.js';
import { firstIssue, replySchema, resultSchemas, type Op, type Request, type RequestOf, type ResultOf } from '../supervisor/control/protocol.js';
import { VERSION } from '../supervisor/version.js';
import { parseDuration } from '../protocol/units.js';
import type * as z from 'zod';
import { configPath } from './config-arg.js';
import { UsageError } from './errors.js';
import { formatMs } from './render/format.js';

/** The supervisor refused a request, or is not there to ask: exit 1 with this message. */
export class ClientError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

export interface Target { stateDir?: string; config?: string; timeout?: string }

/** How long the supervisor has to answer, unless --timeout says otherwise. */
export const DEFAULT_ANSWER_MS = 5000;

/** A duration as --timeout takes it: `5s`, `1m30s`, `250ms`; bare digits are milliseconds. */
export function parseTimeout(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  let ms: number;
  try {
    ms = parseDuration(/^\d+$/.test(text) ? `${text}ms` : text);
  } catch (err) {
    throw new UsageError(`--timeout: ${(err as Error).message}`);
  }
  if (!(ms > 0) || ms > 2 ** 31 - 1) throw new UsageError(`--timeout: expected a duration above 0 and under 24 days, got ${JSON.stringify(text)}`);
  return ms;
}

/** --timeout, else the default: how long the supervisor has to answer. */
export const answerWithin = (args: Target): number => parseTimeout(args.timeout) ?? DEFAULT_ANSWER_MS;


/** The pid the pidfile names, for the message; undefined when there is none to read. */
function supervisorPid(dir: string): number | undefined {
  try {
    const pid = Number(readFileSync(stateFiles(dir).pidfile, 'utf8').split('\n')[0]);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function silent(dir: string, ms: number): ClientError {
  const pid = supervisorPid(dir);
  const who = pid === undefined ? `the supervisor on ${dir}` : `the supervisor (pid ${pid})`;
  return new ClientError('ETIMEDOUT', `${who} did not answer within ${formatMs(ms)}: it may be stopped (SIGSTOP) or overloaded; --timeout gives it longer`);
}

/** `work`, or `onTimeout()` thrown once `ms` have passed without it settling. */
function within<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

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

  private constructor(private readonly sock: Socket, readonly dir: string, readonly answerMs: number) {
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

  /** `answerMs`: how long the supervisor has to accept, and then to answer each request (DEFAULT_ANSWER_MS). */
  static connect(dir: string, opts: { answerMs?: number } = {}): Promise<ControlClient> {
    const path = stateFiles(dir).socket;
    const answerMs = opts.answerMs ?? DEFAULT_ANSWER_MS;
    const sock = connect(path);
    const connected = new Promise<ControlClient>((resolveConn, reject) => {
      sock.once('connect', () => {
        sock.removeAllListeners('error');
        resolveConn(new ControlClient(sock, dir, answerMs));
      });
      sock.once('error', (err) => reject(connectError(err, dir, path)));
    });
    return within(connected, answerMs, () => {
      sock.destroy();
      return silent(dir, answerMs);
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

  /** The raw reply to one request, however long it takes. */
  private request(req: Request): { id: number; reply: Promise<unknown> } {
    if (this.closedError) return { id: 0, reply: Promise.reject(this.closedError) };
    const id = this.nextId++;
    const reply = new Promise<unknown>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      // The supervisor refuses it if it reads it only after this client has given up (see the protocol's `deadline`).
      this.sock.write(JSON.stringify({ ...req, id, deadline: Date.now() + this.answerMs }) + '\n');
    });
    return { id, reply };
  }

  /** The raw reply, which must come within answerMs; a silent supervisor is ETIMEDOUT and the connection is dropped. */
  private answered(req: Request): Promise<unknown> {
    const { id, reply } = this.request(req);
    return within(reply, this.answerMs, () => {
      this.waiting.delete(id);
      this.sock.destroy();
      return silent(this.dir, this.answerMs);
    });
  }

  /**
   * The raw reply to work that may take long (stop, restart, send --wait): it is
   * waited for as long as the supervisor is alive, which a ping on the same
   * connection checks every answerMs; the work's own budgets (shutdown, start
   * timeout, the request's timeout) bound it on the supervisor's side. A stopped
   * supervisor is then noticed within twice answerMs, at any point of the wait.
   * `capMs`, when given, bounds the whole wait too.
   */
  private async awaited(req: Request, capMs: number | undefined): Promise<unknown> {
    const { id, reply } = this.request(req);
    const started = Date.now();
    const settled = reply.then(() => true, () => true);
    for (;;) {
      const left = capMs === undefined ? this.answerMs : Math.min(this.answerMs, capMs - (Date.now() - started));
      if (left <= 0 || !(await within(settled, left, () => new Error('still working')).catch(() => false))) {
        if (capMs !== undefined && Date.now() - started >= capMs) {
          this.waiting.delete(id);
          this.sock.destroy();
          throw new ClientError('ETIMEDOUT', `no reply to ${req.op} within ${formatMs(capMs)}, though the supervisor answers; see 'outheis status' and 'outheis logs'`);
        }
        await this.answered({ op: 'ping' }); // alive and working, or ETIMEDOUT
        continue;
      }
      return reply;
    }
  }

  /**
   * Send a request; resolves with its result, rejects with a ClientError carrying the
   * supervisor's error code, ETIMEDOUT when it does not answer in time (see
   * `answered`; with `long`, see `awaited`), or EBADREPLY naming the field when the
   * reply is not what this version of the protocol says it is.
   */
  async call<O extends Op>(req: RequestOf<O>, opts: { long?: boolean; capMs?: number } = {}): Promise<ResultOf<O>> {
    const raw = await (opts.long ? this.awaited(req, opts.capMs) : this.answered(req));
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

/** Connect, ask once, disconnect. `long`: work that may take longer than --timeout (see ControlClient.awaited). */
export async function ask<O extends Op>(args: Target, req: RequestOf<O>, opts: { long?: boolean; capMs?: number; answerMs?: number } = {}): Promise<ResultOf<O>> {
  const client = await ControlClient.connect(stateDirFor(args), { answerMs: opts.answerMs ?? answerWithin(args) });
  try {
    return await client.call(req, opts);
  } finally {
    client.close();
  }
}
