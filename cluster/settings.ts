// The stream's and the consumers' settings, in one place: the link creates them with
// these, and `doctor` checks a running server's stream against them.
import { DiscardPolicy, RetentionPolicy, StorageType, type StreamConfig } from '@nats-io/jetstream';
import { SUBJECT_ROOT } from './wire.js';

export const LIMITS = {
  /** A re-publish within this window (after a reconnect or a crash of ours) is dropped by the stream. */
  duplicateWindowMs: 2 * 60_000,
  /** A message taken and not acked within this is delivered again (a receiver that died mid-way). */
  ackWaitMs: 5000,
  /** Bounded, as the issue asks; high, because a receiver acks everything it can decide on (refusals too). */
  maxDeliver: 100,
  /** A host takes at most this many messages before acking: the bound on what it holds unjournaled. */
  maxAckPending: 1024,
  publishTimeoutMs: 5000,
} as const;

/** The last pledge list of each agent of each host: a stream that keeps one message per subject. */
export const PLEDGE_ROOT = 'outheis-pledges';
export const pledgeStreamOf = (stream: string): string => `${stream}_PLEDGES`;

const NS = 1_000_000;

export function streamConfigOf(name: string): Partial<StreamConfig> & { name: string } {
  return {
    name,
    subjects: [`${SUBJECT_ROOT}.>`],
    storage: StorageType.File,
    // A work queue: a message goes once its host's consumer acked it (each host's filter is its own, so they never overlap).
    retention: RetentionPolicy.Workqueue,
    discard: DiscardPolicy.Old,
    duplicate_window: LIMITS.duplicateWindowMs * NS,
  };
}

/** Where a server's stream differs from what the cluster needs: `doctor`'s findings, empty when fine. */
export function streamIssues(cfg: Pick<StreamConfig, 'subjects' | 'storage' | 'duplicate_window' | 'num_replicas'>): string[] {
  const issues: string[] = [];
  if (!cfg.subjects?.includes(`${SUBJECT_ROOT}.>`)) issues.push(`subjects ${JSON.stringify(cfg.subjects)} do not include ${SUBJECT_ROOT}.>`);
  if (cfg.storage !== StorageType.File) issues.push(`storage is ${cfg.storage}: messages would not survive a server restart (expected file)`);
  if (cfg.duplicate_window < 30_000 * NS) issues.push(`duplicate_window is ${cfg.duplicate_window / NS}ms: a re-publish after a reconnect may be stored twice (expected at least 30s)`);
  return issues;
}
