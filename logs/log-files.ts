// The files under state_dir/logs: supervisor.log and one <agent>.log per agent,
// each a RotatingFile. Agent output is written as pino-shaped JSON records, so
// one reader (outheis logs) and one renderer serve both kinds.
import { join } from 'node:path';
import { RotatingFile } from './rotating-file.js';

export const SUPERVISOR_LOG = 'supervisor';
export const logFileOf = (dir: string, name: string): string => join(dir, `${name}.log`);

export interface AgentRecord {
  level: 30;
  time: number;
  agent: string;
  stream: 'stdout' | 'stderr';
  msg: string;
  truncated?: true;
}

/** One agent output line as its log record (a JSON line, with the newline). */
export function agentRecord(agent: string, stream: 'stdout' | 'stderr', line: string, truncated: boolean, time = Date.now()): string {
  return recordEncoder(agent, stream)(line, truncated, time);
}

/**
 * agentRecord for one agent's stream, its constant part encoded once: per line only
 * the message is JSON-escaped (a flood of lines is a flood of these calls). The
 * output is JSON.stringify of an AgentRecord, key for key.
 */
export function recordEncoder(agent: string, stream: 'stdout' | 'stderr'): (line: string, truncated: boolean, time: number) => string {
  const mid = `,"agent":${JSON.stringify(agent)},"stream":"${stream}","msg":`;
  return (line, truncated, time) => `{"level":30,"time":${time}${mid}${JSON.stringify(line)}${truncated ? ',"truncated":true' : ''}}\n`;
}

/**
 * The supervisor's records about one agent (spawned, ready, exited, restarting,
 * limit kills, faults…): those whose `agent` is it, or whose `agents` list holds it.
 * For `outheis logs <agent>`, which shows them among the agent's own lines.
 */
export function aboutAgent(name: string): (line: string) => boolean {
  const quoted = JSON.stringify(name);
  return (line) => {
    if (!line.includes(quoted)) return false; // most records are about another agent: skip parsing them
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      return false;
    }
    if (typeof rec !== 'object' || rec === null) return false;
    const { agent, agents } = rec as { agent?: unknown; agents?: unknown };
    return agent === name || (Array.isArray(agents) && agents.includes(name));
  };
}

export interface LogFilesOptions {
  maxSize: number;
  keep: number;
  /** A file could not be written (disk full, directory gone): called once per episode. */
  failed: (name: string, err: NodeJS.ErrnoException) => void;
}

export class LogFiles {
  private readonly files = new Map<string, RotatingFile>();

  constructor(readonly dir: string, private readonly opts: LogFilesOptions) {}

  file(name: string): RotatingFile {
    let f = this.files.get(name);
    if (!f) {
      f = new RotatingFile(logFileOf(this.dir, name), { maxSize: this.opts.maxSize, keep: this.opts.keep, onError: (err) => this.opts.failed(name, err) });
      this.files.set(name, f);
    }
    return f;
  }

  /** Bytes each file had to drop since the last call (disk full, or a writer far behind). */
  takeDropped(): [string, number][] {
    const lost: [string, number][] = [];
    for (const [name, f] of this.files) {
      const n = f.takeDropped();
      if (n) lost.push([name, n]);
    }
    return lost;
  }

  async close(): Promise<void> {
    await Promise.all([...this.files.values()].map((f) => f.close()));
  }
}
