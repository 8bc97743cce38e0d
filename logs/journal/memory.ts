// The journal of a supervisor run without a state directory (tests, the bare-router
// benchmark): it keeps nothing, and every group is "durable" before `stage` returns.
//
// It commits synchronously rather than on a microtask so that, with it, a send is
// accepted, in its mailbox and delivered within the very frame that carried it, and
// its acc still waits for the end of the read: the router's behaviour and frame
// order without a journal, through the same staging path a real journal takes.
import type { AnyNewRecord } from './schema.js';
import type { RouterJournal } from './port.js';

export class MemoryJournal implements RouterJournal {
  readonly keepsNothing = true;

  /** Segment -1: nothing is on disk, so there is no segment for retention to keep. */
  stage(_recs: AnyNewRecord[], _live: number, done: (err: Error | undefined, segment: number) => void): void {
    done(undefined, -1);
  }

  note(_rec: AnyNewRecord, _lazy?: boolean): void {}

  release(_segment: number): void {}
}
