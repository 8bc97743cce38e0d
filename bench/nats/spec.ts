// What bench/jetstream.ts tells its producer and consumer processes (argv, JSON), and how they connect.
import { connect, type NatsConnection } from '@nats-io/transport-node';

export interface PeerRun {
  url: string;
  /** `js`: JetStream, publish with acks; the consumer `pull` (explicit acks) or `ordered` (none). `core`: NATS without JetStream. */
  mode: 'core' | 'pull' | 'ordered';
  stream: string;
  consumer: string;
  subject: string;
  n: number;
  size: number;
  /** Publish acks outstanding at most. */
  window: number;
  /** Messages per pull request. */
  batch: number;
}

/** Wall-clock ms with sub-ms precision, comparable across processes (as bench/core.ts times outheis). */
export const now = (): number => performance.timeOrigin + performance.now();

/** This process's CPU (user + system) since `from`, µs. */
export function cpuSince(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return d.user + d.system;
}

/**
 * The client's documented switch for speed, as a user tuning for throughput sets it:
 * by default every request (each acked publish) captures a stack for its error
 * messages, which halves the producer's rate here.
 */
export const connectTo = (run: PeerRun): Promise<NatsConnection> => connect({ servers: run.url, noAsyncTraces: true });
