// The supervision tree's vocabulary, in OTP's words (see erlang.org/doc/man/supervisor).
// These types are the contract between the config (tree-spec.ts) and the machine
// (decide.ts), and between the machine and the runtime that carries out its actions.

// The vocabulary is the config's (one source); the machine itself stays free of zod at run time.
export type { Strategy, RestartType } from '../config/schema.js';
import type { Strategy, RestartType } from '../config/schema.js';

export interface Backoff {
  initialMs: number;
  maxMs: number;
  /** A child that ran this long before failing counts as stable: its failure streak restarts. */
  resetMs: number;
}

export interface Policy {
  strategy: Strategy;
  /** More than `intensity` restarts within `periodMs` is too many for this supervisor. */
  intensity: number;
  periodMs: number;
  /**
   * What too many restarts do. true: OTP's rule, the supervisor gives up (a group fails
   * in its parent, the root shuts everything down). false: systemd's rule, it says so
   * and restarts on; each child's own start limit is what stops a crash loop.
   */
  escalate: boolean;
  backoff: Backoff;
}

/** systemd's StartLimitBurst/StartLimitIntervalSec: more than `burst` restarts within `intervalMs` and the child is failed. */
export interface StartLimit {
  burst: number;
  intervalMs: number;
}

/** Without a startLimit a child is restarted for as long as its parent's intensity allows (OTP). */
export type ChildSpec =
  | { kind: 'agent'; name: string; restart: RestartType; startLimit?: StartLimit }
  | { kind: 'group'; name: string; policy: Policy; children: ChildSpec[]; startLimit?: StartLimit };

/** The root supervisor; children are in START order. */
export interface TreeSpec {
  policy: Policy;
  children: ChildSpec[];
}

/** A child as the tree sees it (not the agent's state in status: see agent-slot.ts). */
export type ChildState = 'running' | 'pending' | 'removed' | 'failed';

export type Action =
  /** Stop these running agents, in this order (reverse start order). Their exits are not failures. */
  | { type: 'stop'; agents: string[]; reason: string }
  /** (Re)start these agents in this order, after delayMs. */
  | { type: 'start'; agents: string[]; delayMs: number; reason: string }
  /** The child terminated and is not restarted; it stays stopped. */
  | { type: 'remove'; agent: string; reason: string }
  /** These agents (one, or a group's) hit their start limit: not restarted until the operator restarts one. */
  | { type: 'fail'; agents: string[]; reason: string }
  /** Informational: a group that does not escalate went over its intensity, and restarts on. */
  | { type: 'over_intensity'; group: string; reason: string }
  /** Informational: a nested group exceeded its intensity; its parent's actions follow. */
  | { type: 'escalate'; group: string; reason: string }
  /** The root exceeded its intensity: a 'stop' of every running agent comes right before this. */
  | { type: 'shutdown'; exitCode: number; reason: string };
