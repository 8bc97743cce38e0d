// Supervisor events as pino JSON. pino keeps formatting off the hot path; the
// router never logs per message.
import { pino, type Logger, type DestinationStream, type StreamEntry } from 'pino';

export type { Logger };

/** What the console may hold in memory when its reader (a terminal, journald) falls behind: past it, lines are dropped. */
const CONSOLE_BUFFER = 16 * 1024 * 1024;

/** The supervisor's stdout, and how far its reader is behind. */
export interface ConsoleDestination extends DestinationStream {
  /** Bytes accepted and not yet written to fd 1. */
  readonly backlog: number;
}

/**
 * stdout for log records: asynchronous, bounded, and deaf to EPIPE. With `render`
 * (a terminal), each JSON line is rendered for a human first.
 */
export function consoleDestination(opts: { render?: (line: string) => string } = {}): ConsoleDestination {
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
  const { render } = opts;
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
      : put,
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

/** One logger writing every record to several destinations (the console and supervisor.log). */
export function createTeeLogger(destinations: DestinationStream[], level = levelOf()): Logger {
  const streams: StreamEntry[] = destinations.map((stream) => ({ stream, level: level as pino.Level }));
  return pino({ level, base: BASE }, pino.multistream(streams));
}

/** A logger that drops everything (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
