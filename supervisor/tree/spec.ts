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
  /** More than `intensity` restarts within `periodMs` and this supervisor gives up (escalates). */
  intensity: number;
  periodMs: number;
  backoff: Backoff;
}

export type ChildSpec =
  | { kind: 'agent'; name: string; restart: RestartType }
  | { kind: 'group'; name: string; policy: Policy; children: ChildSpec[] };

/** The root supervisor; children are in START order. */
export interface TreeSpec {
  policy: Policy;
  children: ChildSpec[];
}

/** A child as the tree sees it (not the agent's state in status: see agent-slot.ts). */
export type ChildState = 'running' | 'pending' | 'removed';

export type Action =
  /** Stop these running agents, in this order (reverse start order). Their exits are not failures. */
  | { type: 'stop'; agents: string[]; reason: string }
  /** (Re)start these agents in this order, after delayMs. */
  | { type: 'start'; agents: string[]; delayMs: number; reason: string }
  /** The child terminated and is not restarted; it stays stopped. */
  | { type: 'remove'; agent: string; reason: string }
  /** Informational: a nested group exceeded its intensity; its parent's actions follow. */
  | { type: 'escalate'; group: string; reason: string }
  /** The root exceeded its intensity: a 'stop' of every running agent comes right before this. */
  | { type: 'shutdown'; exitCode: number; reason: string };
