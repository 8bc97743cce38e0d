// When the supervisor is ready, as systemd and `start --detach` are told: every agent
// that should run is running, or settled by its policy (failed at its start limit, a
// temporary or transient one that ended, one the operator stopped). None is starting,
// in backoff, stopping, or exited and waiting for the tree's decision.
//
// It is read from the Supervisor's events and status(), never from its insides. An
// exit leaves an agent "stopped" until the tree decides (a restart, or `removed`); the
// decision is carried out a few promise turns later, so the state is looked at on
// the next turn of the loop (setImmediate), and an exit not yet followed by its
// decision counts as unsettled. A refresh every STATUS_EVERY_MS catches what no event
// announces (a backoff timer that fired, an operator stop of an agent in backoff).
import { AGENT_STATES, type AgentStatus } from '../agent-slot.js';
import type { Supervisor } from '../supervisor.js';
import { STATUS_EVERY_MS } from './notify.js';

export type Phase = 'starting' | 'ready' | 'reloading' | 'stopping';

export interface ReadinessHooks {
  /** Every agent has settled: at start, and after a reload. */
  ready(): void;
  /** A reload has begun. */
  reloading(): void;
  /** A stop of everything has begun. */
  stopping(code: number): void;
  /** The one-line summary changed (or was refreshed). */
  status(text: string): void;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** `5 agents: 4 running, 1 backoff; 3 restarts`. */
export function summary(agents: readonly AgentStatus[]): string {
  const counts = AGENT_STATES.map((s) => [s, agents.filter((a) => a.state === s).length] as const).filter(([, n]) => n > 0);
  const restarts = agents.reduce((n, a) => n + a.restarts, 0);
  const states = counts.map(([s, n]) => `${n} ${s}`).join(', ');
  return `${plural(agents.length, 'agent')}${states ? `: ${states}` : ''}; ${plural(restarts, 'restart')}`;
}

/** The agents that keep the supervisor from being ready; `undecided`: exited, and the tree has not said what follows. */
export function unsettled(agents: readonly AgentStatus[], undecided: ReadonlySet<string>): string[] {
  return agents.filter((a) => {
    if (a.state === 'running' || a.state === 'failed') return false;
    if (a.state === 'stopped') return undecided.has(a.name);
    return true; // starting, backoff, stopping
  }).map((a) => a.name);
}

/** Follows the supervisor until it stops; returns a function that stops following. */
export function watchReadiness(sup: Supervisor, hooks: ReadinessHooks, refreshMs = STATUS_EVERY_MS): () => void {
  let phase: Phase = 'starting';
  let reloadApplied = false;
  const undecided = new Set<string>();
  let queued = false;
  let lastStatus = '';

  const tellStatus = (agents: readonly AgentStatus[]) => {
    const text = (phase === 'ready' ? '' : `${phase}… `) + summary(agents);
    if (text !== lastStatus) hooks.status((lastStatus = text));
  };
  const evaluate = () => {
    queued = false;
    const agents = sup.status();
    const waiting = phase === 'starting' || (phase === 'reloading' && reloadApplied);
    if (waiting && unsettled(agents, undecided).length === 0) {
      phase = 'ready';
      tellStatus(agents); // first, so that it goes out with READY=1
      hooks.ready();
    }
    tellStatus(agents);
  };
  const soon = () => {
    if (queued) return;
    queued = true;
    setImmediate(evaluate);
  };

  const decided = (agent: string) => {
    undecided.delete(agent);
    soon();
  };
  const listeners = {
    spawn: decided,
    ready: decided,
    restart: decided,
    removed: decided,
    exit: (agent: string, last: { reason: string }) => {
      // "stopped": the supervisor stopped it itself (operator stop, a group restart, the halt): nothing for the tree to decide.
      if (last.reason !== 'stopped') undecided.add(agent);
      soon();
    },
    reloading: () => {
      if (phase === 'stopping') return;
      phase = 'reloading';
      reloadApplied = false;
      tellStatus(sup.status()); // first, so that it goes out with RELOADING=1
      hooks.reloading();
      soon();
    },
    reloaded: () => {
      if (phase !== 'reloading') return;
      reloadApplied = true; // applied or refused: either way systemd waits for READY=1 once things settle
      soon();
    },
    halting: (code: number) => {
      phase = 'stopping';
      tellStatus(sup.status());
      hooks.stopping(code);
      soon();
    },
  } as const;
  for (const [event, fn] of Object.entries(listeners)) sup.on(event, fn as (...args: unknown[]) => void);
  const refresh = setInterval(evaluate, refreshMs).unref();
  soon();
  return () => {
    clearInterval(refresh);
    for (const [event, fn] of Object.entries(listeners)) sup.off(event, fn as (...args: unknown[]) => void);
  };
}
