// systemd's manager end of the notify protocol, played by notify-manager.py (python3
// can read SO_PASSCRED credentials; node cannot open a datagram socket). Each message
// comes with the pid and uid the kernel stamped on it and the manager's receive time.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT, tempDir, until } from './harness.js';

export interface NotifyMessage {
  /** Receive time, ms since the epoch, on the manager's clock. */
  at: number;
  pid: number | null;
  uid: number | null;
  /** Fds passed with it (systemd-notify's BARRIER=1 carries one). */
  fds: number;
  /** NAME=value lines, as sent. */
  fields: Record<string, string>;
}

export interface Manager {
  path: string;
  messages: NotifyMessage[];
  /** The manager's clock at its latest tick (every 100 ms). */
  now(): number;
  /** The first message (after `from`, an index) for which pred holds. */
  waitFor(what: string, pred: (m: NotifyMessage) => boolean, opts?: { from?: number; timeoutMs?: number }): Promise<NotifyMessage>;
  /** Until the manager's own clock has reached `t`. */
  waitUntil(t: number): Promise<void>;
  close(): void;
}

export async function startManager(dir = tempDir('outheis-notify-')): Promise<Manager> {
  const path = join(dir, 'notify.sock');
  const proc: ChildProcess = spawn('python3', [join(ROOT, 'test/helpers/notify-manager.py'), path], { stdio: ['pipe', 'pipe', 'inherit'] });
  const messages: NotifyMessage[] = [];
  let tick = 0;
  let listening = false;
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const rec = JSON.parse(line) as { listening?: string; tick?: number; at?: number; pid?: number; uid?: number; fds?: number; msg?: string };
    if (rec.listening) listening = true;
    else if (rec.tick !== undefined) tick = rec.tick;
    else {
      const fields = Object.fromEntries(rec.msg!.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      messages.push({ at: rec.at!, pid: rec.pid ?? null, uid: rec.uid ?? null, fds: rec.fds ?? 0, fields });
    }
  });
  await until('the notify manager to listen', () => (listening ? true : undefined));
  const dump = () => messages.map((m) => `${m.pid}: ${Object.entries(m.fields).map(([k, v]) => `${k}=${v}`).join(' ')}`).join('\n');
  return {
    path, messages,
    now: () => tick,
    waitFor: (what, pred, opts = {}) => until(() => `${what}; received:\n${dump()}`, () => messages.slice(opts.from ?? 0).find(pred), opts.timeoutMs ?? 20000),
    waitUntil: async (t) => void await until(`the manager's clock to reach ${t}`, () => (tick >= t ? true : undefined), Math.max(10000, t - Date.now() + 10000)),
    close: () => proc.stdin!.end(),
  };
}

/** argv for startDaemon's wrap: WATCHDOG_PID set to the pid the supervisor will have (sh execs it, keeping its pid), as systemd does after fork. */
export const withWatchdogPid = (argv: string[]): string[] => ['sh', '-c', 'export WATCHDOG_PID=$$; exec "$@"', 'sh', ...argv];
