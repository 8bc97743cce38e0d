// Saying things to whoever waits on the supervisor: systemd, through its notify
// protocol (sd_notify(3)), and `outheis start --detach`, through a socket of its own.
//
// Node cannot open AF_UNIX datagram sockets, so systemd hears us through
// `systemd-notify`, which ships with systemd itself and is therefore there wherever
// NOTIFY_SOCKET is. Run as root (CAP_SYS_ADMIN), `--pid=<ours>` makes the kernel stamp
// our pid on the datagram, so NotifyAccess=main holds, and `--no-block` skips the
// barrier it would otherwise wait on. Without the capability the kernel puts the
// helper's own pid there: the unit then needs NotifyAccess=all, and the barrier makes
// the helper wait until systemd has read the message (so it is not lost as coming
// from a pid that has already exited).
//
// One helper at a time, in order: each message is one datagram, and a READY=1 must
// not overtake the RELOADING=1 before it. STATUS= and WATCHDOG=1 are coalesced (the
// latest status wins, one ping stands for several) and ride along with the next
// message. A helper that fails or hangs is killed at its timeout and logged once:
// the supervisor runs on whatever systemd-notify does.
import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../../logs/logger.js';

/** One message: `NAME=value` assignments sent together. */
export type Message = string[];

export interface Transport {
  /** For the log: what failed. */
  readonly name: string;
  /** Resolves once the message is handed over; rejects with why it was not. */
  send(msg: Message): Promise<void>;
  close(): void;
}

/** What a helper that has not finished may take: past it, it is killed and the message given up. */
export const SEND_TIMEOUT_MS = 5000;
/** STATUS= at most this often, unless it rides with an event. */
export const STATUS_EVERY_MS = 1000;

/** systemd-notify by absolute path: PATH's absolute entries, then where systemd installs it. */
export function findSystemdNotify(path = process.env.PATH ?? ''): string | undefined {
  const dirs = [...path.split(':').filter((d) => d.startsWith('/')), '/usr/bin', '/bin'];
  for (const dir of dirs) {
    const file = join(dir, 'systemd-notify');
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

const CAP_SYS_ADMIN = 21n;

/** May this process name another pid (its own) in SCM_CREDENTIALS? The kernel asks for CAP_SYS_ADMIN. */
export function canNamePid(status?: string): boolean {
  try {
    const text = status ?? readFileSync('/proc/self/status', 'utf8');
    const eff = /^CapEff:\s*([0-9a-f]+)$/m.exec(text);
    return eff !== null && ((BigInt(`0x${eff[1]}`) >> CAP_SYS_ADMIN) & 1n) === 1n;
  } catch {
    return false;
  }
}

/** systemd's notify socket, through its own helper. */
export class SystemdNotify implements Transport {
  readonly name = 'systemd-notify';
  private readonly flags: string[];

  /** `asMain`: we may stamp our own pid (canNamePid), so no barrier is needed. */
  constructor(private readonly bin: string, private readonly socket: string, asMain: boolean, private readonly timeoutMs = SEND_TIMEOUT_MS) {
    this.flags = asMain ? ['--no-block', `--pid=${process.pid}`] : [`--pid=${process.pid}`];
  }

  send(msg: Message): Promise<void> {
    return new Promise((resolve, reject) => {
      // Its environment is this one variable: nothing else of ours goes to it.
      const child = spawn(this.bin, [...this.flags, ...msg], { env: { NOTIFY_SOCKET: this.socket }, stdio: ['ignore', 'ignore', 'pipe'] });
      let said = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (said = (said + d).slice(-500)));
      const timer = setTimeout(() => child.kill('SIGKILL'), this.timeoutMs);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(signal === 'SIGKILL' ? `${this.bin} did not finish within ${this.timeoutMs} ms` : `${this.bin} exited ${code ?? signal}${said ? `: ${said.trim()}` : ''}`));
      });
    });
  }

  close(): void {}
}

/** `outheis start --detach`'s parent, waiting on a socket it made: one JSON array per line. */
export class ParentSocket implements Transport {
  readonly name = 'start --detach';
  private readonly sock: Socket;
  private gone = false;

  constructor(path: string) {
    this.sock = connect(path);
    // The parent leaves once it has heard READY=1 (or gave up): that is not our failure.
    this.sock.on('error', () => (this.gone = true)).on('close', () => (this.gone = true));
    this.sock.unref();
  }

  send(msg: Message): Promise<void> {
    if (!this.gone) this.sock.write(JSON.stringify(msg) + '\n');
    return Promise.resolve();
  }

  close(): void {
    this.sock.end();
  }
}

/** Ordered events, a coalesced status and ping, one message at a time to every transport. */
export class Notifier {
  private readonly events: Message[] = [];
  private status: string | undefined;
  private statusSent: string | undefined;
  private statusAt = -Infinity;
  private statusTimer: NodeJS.Timeout | undefined;
  private ping = false;
  private draining: Promise<void> = Promise.resolve();
  /** A drain is under way; cleared synchronously when it finds nothing more to send. */
  private busy = false;
  private readonly warned = new Set<string>();

  constructor(private readonly transports: Transport[], private readonly log: Logger, private readonly statusEveryMs = STATUS_EVERY_MS) {}

  /** A state change (READY=1, RELOADING=1, STOPPING=1…): sent in order, never merged with another. */
  send(...msg: Message): void {
    this.events.push(msg);
    this.kick();
  }

  /** The one-line summary; only the latest is sent. */
  setStatus(text: string): void {
    this.status = text.replace(/[\r\n]+/g, ' ');
    this.kick();
  }

  /** WATCHDOG=1; pings not yet sent count as one. */
  watchdog(): void {
    this.ping = true;
    this.kick();
  }

  /** Waits (up to `timeoutMs`) for what is queued, STOPPING=1 included, then closes the transports. */
  async close(timeoutMs = SEND_TIMEOUT_MS): Promise<void> {
    clearTimeout(this.statusTimer);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.flushed(), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    for (const t of this.transports) t.close();
  }

  private async flushed(): Promise<void> {
    while (this.busy) await this.draining;
  }

  private kick(): void {
    if (this.busy) return;
    this.busy = true;
    this.draining = this.drain();
  }

  private async drain(): Promise<void> {
    try {
      for (let msg = this.next(); msg; msg = this.next()) {
        const sent = msg;
        await Promise.all(this.transports.map((t) => t.send(sent).catch((err: Error) => this.failed(t, sent, err))));
      }
    } finally {
      this.busy = false;
    }
  }

  private next(): Message | undefined {
    const msg = [...(this.events.shift() ?? [])];
    const event = msg.length > 0;
    if (this.status !== undefined && this.status !== this.statusSent) {
      const wait = this.statusAt + this.statusEveryMs - performance.now();
      if (event || wait <= 0) {
        msg.push(`STATUS=${this.status}`);
        this.statusSent = this.status;
        this.statusAt = performance.now();
      } else {
        this.statusTimer ??= setTimeout(() => {
          this.statusTimer = undefined;
          this.kick();
        }, wait).unref();
      }
    }
    if (this.ping) {
      msg.push('WATCHDOG=1');
      this.ping = false;
    }
    return msg.length ? msg : undefined;
  }

  private failed(t: Transport, msg: Message, err: Error): void {
    if (this.warned.has(t.name)) return;
    this.warned.add(t.name);
    this.log.error({ via: t.name, sent: msg.join(' '), err: err.message }, 'cannot tell the service manager (said once; the supervisor runs on): a lost READY=1 fails the start, lost pings restart the service');
  }
}
