// Supervisor events as pino JSON. pino keeps formatting off the hot path; the
// router never logs per message.
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export function createLogger(opts: { level?: string; destination?: DestinationStream | NodeJS.WritableStream } = {}): Logger {
  let destination = opts.destination as DestinationStream | undefined;
  if (!destination) {
    const stdout = pino.destination({ fd: 1, sync: false });
    // A closed stdout (`outheis start | head`, a dead journald pipe) must not take the supervisor down.
    stdout.on('error', () => undefined);
    destination = stdout;
  }
  return pino({ level: opts.level ?? process.env.OUTHEIS_LOG_LEVEL ?? 'info', base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

/** A logger that drops everything (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
