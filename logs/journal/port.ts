// What the router needs of a journal, declared here so that the dependency runs from
// the supervisor down to the journal and never back: the router imports this
// interface, and Journal (journal.ts) is one implementation of it.
import type { AnyNewRecord } from './schema.js';

export interface RouterJournal {
  /**
   * Keeps no records, and `stage` calls `done` before it returns (memory.ts). There is
   * then no group commit to share: the router hands each send over as it comes, and
   * delivers it within its frame instead of at the end of the read, and it builds no
   * records for it (`recs` is empty).
   */
  readonly keepsNothing?: boolean;
  /**
   * Journal records as one group; `done` runs once, when they are durable or have failed.
   * `urgent`: a latency-bound group (interactive or user sends), committed ahead of a backlog.
   */
  stage(recs: AnyNewRecord[], live: number, done: (err: Error | undefined, segment: number) => void, urgent?: boolean): void;
  /**
   * Journal a record nobody waits for. `lazy`: one whose loss in a crash costs only a
   * redelivery (deliver, ack), so it needs no fsync of its own (writer.ts).
   */
  note(rec: AnyNewRecord, lazy?: boolean): void;
  /** A live message (or checkpoint) in `segment` is settled: retention may take the segment once none are left. */
  release(segment: number): void;
}
