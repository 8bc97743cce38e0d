// Supervisor events as pino JSON. pino keeps formatting off the hot path; the
// router never logs per message.
import { fstatSync } from 'node:fs';
import { pino, type Logger, type DestinationStream, type StreamEntry } from 'pino';

export type { Logger };

/** What the console may hold in memory when its reader (a terminal, journald) falls behind: past it, lines are dropped. */
const CONSOLE_BUFFER = 16 * 1024 * 1024;

/** The supervisor's stdout, and how far its reader is behind. */
export interface ConsoleDestination extends DestinationStream {
  /** Bytes accepted and not yet written to fd 1. */
  readonly backlog: number;
  /** JSON lines; under journald, `priority` (syslog's) overrides what each line's level says. */
  write(chunk: string, priority?: number): void;
}

/**
 * Is stdout journald's stream? systemd sets JOURNAL_STREAM to its `dev:ino`, which a
 * redirected stdout (`> file`, a pipe to a pager) no longer matches.
 */
export function stdoutIsJournal(env: NodeJS.ProcessEnv = process.env, fd = 1): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!m) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return st.dev === BigInt(m[1]!) && st.ino === BigInt(m[2]!);
  } catch {
    return false;
  }
}

/**
 * syslog's priority for a pino level: fatal 2 (crit), error 3, warn 4, info 6, debug
 * and trace 7. journald reads a leading `<N>` off each line (sd-daemon(3)), so
 * `journalctl -p warning` shows the supervisor's warnings and worse.
 */
export function syslogPriority(level: number): number {
  return level >= 60 ? 2 : level >= 50 ? 3 : level >= 40 ? 4 : level >= 30 ? 6 : 7;
}

/** Each line with its priority: the given one, or its record's level (pino writes `{"level":N` first). */
export function withPriorities(chunk: string, priority?: number): string {
  let out = '';
  for (const line of chunk.split('\n')) {
    if (!line) continue;
    const level = /^\{"level":(\d+)/.exec(line);
    out += `<${priority ?? (level ? syslogPriority(Number(level[1])) : 6)}>${line}\n`;
  }
  return out;
}

/**
 * stdout for log records: asynchronous, bounded, and deaf to EPIPE. With `render`
 * (a terminal), each JSON line is rendered for a human first.
 */
export function consoleDestination(opts: { render?: (line: string) => string; priorities?: boolean } = {}): ConsoleDestination {
  const stdout = pino.destination({ fd: 1, sync: false, maxLength: CONSOLE_BUFFER });
  let backlog = 0;
  // sonic-boom says how much each write took; what it dropped (past maxLength) never counted.
  stdout.on('write', (n: number) => (backlog = Math.max(0, backlog - n)));
  stdout.on('drop', (data: string) => (backlog = Math.max(0, backlog - Buffer.byteLength(data))));
  // A closed stdout (`outheis start | head`, a dead journald pipe) must not take the supervisor down.
  stdout.on('error', () => undefined);
  const put = (text: string) => {
    backlog += Buffer.byteLength(text);
    stdout.write(text);
  };
  const { render, priorities } = opts;
  return {
    get backlog() {
      return backlog;
    },
    write: render
      ? (chunk: string) => {
          let out = '';
          for (const line of chunk.split('\n')) if (line) out += render(line) + '\n';
          if (out) put(out);
        }
      : priorities
        ? (chunk: string, priority?: number) => put(withPriorities(chunk, priority))
        : put,
  };
}

/**
 * The console of a supervisor started by `outheis start --detach`, whose stdout is a
 * file in state_dir/logs: supervisor.log and the agents' files hold everything, so
 * this one takes only errors, and only until `close` (the supervisor is ready). That
 * is what the waiting parent shows when the start fails, and the file stays small.
 */
export function startupConsole(inner: ConsoleDestination): { destination: ConsoleDestination; close(): void } {
  let open = true;
  return {
    destination: {
      get backlog() {
        return inner.backlog;
      },
      write: (chunk: string) => {
        if (open) inner.write(chunk);
      },
    },
    close: () => (open = false),
  };
}

const levelOf = () => process.env.OUTHEIS_LOG_LEVEL ?? 'info';

// No `pid` in the base: the supervisor's own is in the pidfile and in `status`, and
// journald records it anyway; `pid` in a record is then always an agent's.
const BASE = {};

export function createLogger(opts: { level?: string; destination?: DestinationStream | NodeJS.WritableStream } = {}): Logger {
  const destination = (opts.destination as DestinationStream | undefined) ?? consoleDestination();
  return pino({ level: opts.level ?? levelOf(), base: BASE }, destination);
}

/** One logger writing every record to several destinations (the console and supervisor.log); a destination may ask for a higher level. */
export function createTeeLogger(destinations: Array<DestinationStream | { stream: DestinationStream; level: pino.Level }>, level = levelOf()): Logger {
  const streams: StreamEntry[] = destinations.map((d) => ('stream' in d ? d : { stream: d, level: level as pino.Level }));
  return pino({ level, base: BASE }, pino.multistream(streams));
}

/** A logger that drops everything (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
