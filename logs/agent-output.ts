// Agents' stdout and stderr on their way to their log files and the console, in
// bounded memory however much an agent prints.
//
// - The log file is where output is kept, so it is never given up on: while an
//   agent's file has more than FILE_BACKLOG queued, its pipes are not read (the
//   sink returns a promise, see lines.ts). The pipe fills and the agent blocks in its
//   own write(2): a disk slower than the agent slows the agent, not the supervisor.
// - The console (a terminal, journald) is a view, shared by every agent and the
//   supervisor's own records. It never holds agents back (one stalled terminal would
//   otherwise stall all of them); past CONSOLE_BACKLOG of unwritten output, agent
//   lines skip the console and are counted. `outheis logs` has them all.
// - Lines are encoded per read: one string and one write per read, not per line.
import type { ConsoleDestination } from './logger.js';
import { recordEncoder, type LogFiles } from './log-files.js';
import type { LineSink } from './lines.js';

/**
 * Queued bytes of one agent's log file past which its pipes wait. None: a read waits
 * for the previous one's batch to be written. Buffers that wait longer outlive V8's
 * young generation and then pile up (as external memory, up to V8's 64 MB trigger for
 * a full GC) in a heap glibc does not give back: with 256 KiB here, ten flooding
 * agents left the supervisor 43 MB larger; with none, 1 MB, at about the same speed.
 */
export const FILE_BACKLOG = 0;
/** Unwritten console bytes past which agents' lines skip the console (at 1 MiB, its waiting strings grew the old generation by 30 MB). */
export const CONSOLE_BACKLOG = 64 * 1024;

/**
 * Under journald, an agent's stderr lines are syslog's notice (5), its stdout lines
 * info (6): stderr is where Node puts its warnings and crash traces, but also where
 * many programs put routine chatter, so it does not pass for a warning. `journalctl -p
 * warning` stays the supervisor's judgement (an agent that crashed is its warning);
 * `-p notice` adds what agents said on stderr.
 */
export const STDERR_PRIORITY = 5;

export class AgentOutput {
  #consoleDropped = 0;

  constructor(
    private readonly files: LogFiles,
    private readonly console: Pick<ConsoleDestination, 'write' | 'backlog'>,
  ) {}

  /** The sink for one agent's stdout or stderr. */
  sink(agent: string, stream: 'stdout' | 'stderr'): LineSink {
    const encode = recordEncoder(agent, stream);
    let batch = '';
    let lines = 0;
    let time = 0;
    return {
      line: (line, truncated) => {
        if (!batch) time = Date.now(); // one read's lines arrived together
        batch += encode(line, truncated, time);
        lines++;
      },
      chunkEnd: () => {
        const file = this.files.file(agent);
        if (batch) {
          file.write(batch);
          if (this.console.backlog + batch.length <= CONSOLE_BACKLOG) this.console.write(batch, stream === 'stderr' ? STDERR_PRIORITY : undefined);
          else this.#consoleDropped += lines;
          batch = '';
          lines = 0;
        }
        return file.queuedBytes > FILE_BACKLOG ? file.flush() : undefined;
      },
    };
  }

  /** Agent lines the console skipped since the last call. */
  takeConsoleDropped(): number {
    const n = this.#consoleDropped;
    this.#consoleDropped = 0;
    return n;
  }
}
