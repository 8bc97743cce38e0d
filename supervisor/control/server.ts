// The control socket: a private Unix socket (0600 in the 0700 state_dir) that
// the CLI talks to, one JSON request per line and one JSON reply per line.
// Anything a client sends is untrusted input: it is bounded, parsed and
// validated, and a bad request gets an error reply, never a crash.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { lstatSync, unlinkSync } from 'node:fs';
import type { Logger } from '../../logs/logger.js';
import { firstIssue, MAX_REQUEST_BYTES, requestSchema, type ControlErrorCode, type Op, type Reply, type Request, type ResultOf } from './protocol.js';
import { encodeReply } from './encode.js';
import { StateDirError } from './state-dir.js';

export class ControlError extends Error {
  constructor(readonly code: ControlErrorCode | string, message: string) {
    super(message);
  }
}

export type Handler = (req: Request) => Promise<ResultOf<Op>>;

/** Enough for `top` and a few scripts; a runaway client loop must not eat all fds. */
const MAX_CONNECTIONS = 128;

const MAX_SOCKET_PATH = 107;

/** Does a live supervisor answer on this socket? */
export function socketAnswers(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(path);
    const done = (answer: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(true), timeoutMs); // accepted but silent: somebody is there
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Why the socket just bound is not the private socket it must be, or undefined. */
function socketProblem(path: string): string | undefined {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st?.isSocket()) return `the control socket ${path} is ${st ? 'not a socket' : 'gone'} right after it was created: refusing to serve on it`;
  const me = process.geteuid?.();
  if (me !== undefined && st.uid !== me) return `the control socket ${path} belongs to uid ${st.uid}, not to this supervisor (uid ${me})`;
  if ((st.mode & 0o077) !== 0) return `the control socket ${path} is mode 0${(st.mode & 0o777).toString(8)}, not 0600`;
  return undefined;
}

export class ControlServer {
  private server: Server | undefined;
  private readonly clients = new Set<Socket>();
  /** Requests being served: close() lets their replies go out first. */
  private inflight = 0;
  private idle: (() => void) | undefined;

  constructor(private readonly path: string, private readonly handle: Handler, private readonly log: Logger) {}

  /**
   * Listen on the socket path. The caller holds the pidfile, so a socket file
   * already there is a crashed supervisor's, unless something still answers on
   * it (a pidfile deleted by hand): then refuse rather than steal it.
   */
  async listen(): Promise<{ replacedStale: boolean }> {
    let replacedStale = false;
    // sun_path holds 108 bytes with its NUL; past that the kernel's error says nothing useful.
    if (Buffer.byteLength(this.path) > MAX_SOCKET_PATH) {
      throw new StateDirError(`the control socket path ${this.path} is ${Buffer.byteLength(this.path)} bytes; Unix sockets allow ${MAX_SOCKET_PATH}: choose a shorter state_dir`);
    }
    if (await socketAnswers(this.path)) {
      throw new StateDirError(`a supervisor already answers on ${this.path}, though the pidfile does not name it; refusing to replace a live socket`);
    }
    try {
      unlinkSync(this.path);
      replacedStale = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const server = createServer((sock) => this.accept(sock));
    server.maxConnections = MAX_CONNECTIONS;
    // The socket is created 0600 from the start (umask), not chmod-ed after a window
    // in which anyone could connect; its mode and owner are checked below.
    const umask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(umask);
    }
    // Checked, not chmod-ed: chmod follows a symlink, and a link swapped in for the
    // socket would hand root's chmod to whatever it names.
    const why = socketProblem(this.path);
    if (why) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      throw new StateDirError(why);
    }
    server.on('error', (err) => this.log.error({ err: err.message }, 'control socket error'));
    this.server = server;
    return { replacedStale };
  }

  private accept(sock: Socket): void {
    this.clients.add(sock);
    sock.on('close', () => this.clients.delete(sock));
    sock.on('error', () => undefined); // a client that vanishes mid-reply is its own problem
    let pending: Buffer[] = [];
    let size = 0;
    sock.on('data', (chunk: Buffer) => {
      let start = 0;
      for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
        const piece = chunk.subarray(start, nl);
        start = nl + 1;
        if (size + piece.length > MAX_REQUEST_BYTES) return this.tooBig(sock);
        const line = size ? Buffer.concat([...pending, piece]) : piece;
        pending = [];
        size = 0;
        if (line.length) void this.serve(sock, line);
      }
      const rest = chunk.subarray(start);
      if (size + rest.length > MAX_REQUEST_BYTES) return this.tooBig(sock);
      if (rest.length) {
        pending.push(Buffer.from(rest));
        size += rest.length;
      }
    });
  }

  private tooBig(sock: Socket): void {
    // Where the next request would start is unknown now, so the connection cannot go on.
    this.reply(sock, { ok: false, error: { code: 'ETOOBIG', message: `request over ${MAX_REQUEST_BYTES} bytes` } });
    sock.removeAllListeners('data');
    sock.end();
  }

  private async serve(sock: Socket, line: Buffer): Promise<void> {
    let raw: unknown;
    try {
      raw = JSON.parse(line.toString('utf8'));
    } catch {
      return this.reply(sock, { ok: false, error: { code: 'EBADREQ', message: 'request is not JSON' } });
    }
    const id = typeof raw === 'object' && raw !== null && Number.isSafeInteger((raw as { id?: unknown }).id) ? (raw as { id: number }).id : undefined;
    const parsed = requestSchema.safeParse(raw);
    if (!parsed.success) {
      return this.reply(sock, { id, ok: false, error: { code: 'EBADREQ', message: `invalid request: ${firstIssue(parsed.error)}` } });
    }
    this.inflight++;
    try {
      const result = await this.handle(parsed.data);
      this.reply(sock, { id, ok: true, result });
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown };
      const known = err instanceof ControlError || (typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code));
      if (!known) this.log.error({ op: parsed.data.op, err: (err as Error)?.stack ?? String(err) }, 'control request failed');
      this.reply(sock, { id, ok: false, error: { code: known ? String(e.code) : 'EINTERNAL', message: String(e.message ?? err) } });
    } finally {
      if (--this.inflight === 0) this.idle?.();
    }
  }

  private reply(sock: Socket, reply: Reply): void {
    if (sock.writable) sock.write(encodeReply(reply) + '\n');
  }

  /** Stop accepting; let replies in flight go out (for up to `graceMs`), then close every connection. */
  async close(graceMs = 1000): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // `stop` itself is in flight: its reply ("stopped") is written after the halt it waited for.
    if (this.inflight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    for (const sock of this.clients) sock.end();
    const timer = setTimeout(() => { for (const sock of this.clients) sock.destroy(); }, 1000);
    await closed;
    clearTimeout(timer);
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
