// Supervisor events as pino JSON. pino keeps formatting off the hot path; the
// router never logs per message.
import { pino, type Logger, type DestinationStream, type StreamEntry } from 'pino';

export type { Logger };

/** What the console may hold in memory when its reader (a terminal, journald) falls behind: past it, lines are dropped. */
const CONSOLE_BUFFER = 16 * 1024 * 1024;

/** stdout for log records: asynchronous, bounded, and deaf to EPIPE. */
export function consoleDestination(): DestinationStream {
  const stdout = pino.destination({ fd: 1, sync: false, maxLength: CONSOLE_BUFFER });
  // A closed stdout (`outheis start | head`, a dead journald pipe) must not take the supervisor down.
  stdout.on('error', () => undefined);
  return stdout;
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
