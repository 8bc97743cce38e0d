// Why an agent failed, kept for `outheis status <agent>`: its last exits, each with
// the last lines it wrote to stderr before it, the restarts the tree ordered (to
// count those in the group's intensity window) and when a backoff ends.
//
// It listens to the supervisor's own events (reports.ts): `exit` is emitted where
// exits are handled (exits.ts), `output` where agent lines are read (starter.ts),
// `spawn` and `restart` where those happen. So it needs no hook of its own in those
// modules, and sees exactly what the log and embedders see. Bounded: EXITS_KEPT
// exits per agent, each with at most STDERR_LINES lines and STDERR_BYTES bytes.
import type { EventEmitter } from 'node:events';
import type { LastExit } from './agent-slot.js';
import type { SupervisorEvents } from './reports.js';

/** Exits kept per agent, the oldest dropped first. */
export const EXITS_KEPT = 10;
/** stderr lines kept before each exit. */
export const STDERR_LINES = 10;
/** …and at most this many bytes of them; one line is cut at STDERR_LINE_BYTES. */
export const STDERR_BYTES = 4096;
export const STDERR_LINE_BYTES = 1024;

export interface ExitRecord extends LastExit {
  /** The last stderr lines of the process that exited, oldest first. */
  stderr: string[];
}

export interface AgentHistory {
  /** Newest first. */
  exits: ExitRecord[];
  /** When the tree ordered each restart still remembered (ms since the epoch), oldest first. */
  restarts: number[];
  /** When the pending backoff ends and the agent is started again; undefined when none is pending. */
  nextStartAt: number | undefined;
  /** The delay of the last restart the tree ordered. */
  lastDelayMs: number | undefined;
}

/** A line as kept: cut at STDERR_LINE_BYTES (on a character boundary). */
function cut(line: string): string {
  if (Buffer.byteLength(line) <= STDERR_LINE_BYTES) return line;
  return Buffer.from(line).subarray(0, STDERR_LINE_BYTES).toString('utf8').replace(/\uFFFD$/, '') + '…';
}

/** The last lines that fit STDERR_LINES and STDERR_BYTES. */
function bounded(lines: string[]): string[] {
  const kept: string[] = [];
  let bytes = 0;
  for (let i = lines.length - 1; i >= 0 && kept.length < STDERR_LINES; i--) {
    bytes += Buffer.byteLength(lines[i]!) + 1;
    if (bytes > STDERR_BYTES && kept.length) break;
    kept.push(lines[i]!);
  }
  return kept.reverse();
}

class Agent {
  readonly exits: ExitRecord[] = [];
  readonly restarts: number[] = [];
  nextStartAt: number | undefined;
  lastDelayMs: number | undefined;
  /** The last stderr lines of the running process. */
  private recent: string[] = [];
  /** The last exit, until the next spawn: its process's pipe may still be read after the exit, and those lines are its too. */
  private open: ExitRecord | undefined;

  line(line: string): void {
    if (this.open) {
      this.open.stderr = bounded([...this.open.stderr, cut(line)]);
      return;
    }
    this.recent.push(cut(line));
    if (this.recent.length > STDERR_LINES) this.recent.shift();
  }

  exited(exit: LastExit): void {
    // A start that failed (no spawn in between) has no lines: the previous process's went with its own exit.
    this.open = { ...exit, stderr: bounded(this.recent) };
    this.recent = [];
    this.exits.unshift(this.open);
    if (this.exits.length > EXITS_KEPT) this.exits.pop();
  }

  spawned(): void {
    this.open = undefined;
    this.recent = [];
    this.nextStartAt = undefined;
  }

  restarting(delayMs: number, now: number, keepMs: number): void {
    this.restarts.push(now);
    while (this.restarts.length && this.restarts[0]! < now - keepMs) this.restarts.shift();
    this.lastDelayMs = delayMs;
    this.nextStartAt = delayMs > 0 ? now + delayMs : undefined;
  }
}

export class ExitHistory {
  private readonly agents = new Map<string, Agent>();

  /** `windowOf`: the intensity period of the agent's group, how long a restart is worth remembering. */
  constructor(private readonly windowOf: (agent: string) => number) {}

  /** Fed by the supervisor's events from now on; `clock` for tests. */
  static listen(sup: EventEmitter, windowOf: (agent: string) => number, clock: () => number = Date.now): ExitHistory {
    const h = new ExitHistory(windowOf);
    type On<E extends keyof SupervisorEvents> = (...args: SupervisorEvents[E]) => void;
    sup.on('output', ((agent, stream, line) => stream === 'stderr' && h.of(agent).line(line)) satisfies On<'output'>);
    sup.on('exit', ((agent, exit) => h.of(agent).exited(exit)) satisfies On<'exit'>);
    sup.on('spawn', ((agent) => h.of(agent).spawned()) satisfies On<'spawn'>);
    sup.on('restart', ((agent, delayMs) => h.of(agent).restarting(delayMs, clock(), windowOf(agent))) satisfies On<'restart'>);
    return h;
  }

  private of(name: string): Agent {
    let a = this.agents.get(name);
    if (!a) this.agents.set(name, (a = new Agent()));
    return a;
  }

  /** What is known of `name` at `now`; restarts older than its group's window are left out. */
  get(name: string, now = Date.now()): AgentHistory {
    const a = this.agents.get(name);
    if (!a) return { exits: [], restarts: [], nextStartAt: undefined, lastDelayMs: undefined };
    const from = now - this.windowOf(name);
    return {
      exits: a.exits.map((e) => ({ ...e, stderr: [...e.stderr] })),
      restarts: a.restarts.filter((t) => t >= from),
      nextStartAt: a.nextStartAt !== undefined && a.nextStartAt > now ? a.nextStartAt : undefined,
      lastDelayMs: a.lastDelayMs,
    };
  }
}
