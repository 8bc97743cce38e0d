// Dead letters as the journal holds them, for `outheis journal deadletters` (with or
// without a supervisor running) and for the supervisor's redrive: every message
// given up on, and whether the operator has redriven it, that is sent it again as a
// new message (an accept record with `redrive: <its id>`), and whether that new
// message was handled. The history is never rewritten: a dead letter stays one, and
// what became of it is read from the records after it.
import type { Qos } from '../../protocol/constants.js';
import type { JournalRecord } from './record.js';
import { readRecords } from './recover.js';
import { recordSchemas } from './schema.js';

export interface DeadLetter {
  seq: number;
  at: number;
  id: number;
  from: string;
  /** The agent it was for. */
  to: string;
  kind: string;
  /** Absent in journals written before dead letters carried their message. */
  qos?: Qos;
  attempts: number;
  reason: string;
  /** Only when asked for (a redrive); found in the accept record when the dead letter does not carry it. */
  body?: Uint8Array;
  /** The new message that redrove it; `handled` once that one was acked. */
  redriven?: { id: number; seq: number; at: number; handled: boolean };
}

/** Pending: not redriven yet. */
export const pendingRedrive = (d: DeadLetter): boolean => d.redriven === undefined;

/**
 * Every dead letter in the journal in `dir`, oldest first (one per message id: the
 * latest, should a crash have made one twice). With `bodies`, each carries its
 * message's body where the journal still has it.
 */
export async function readDeadLetters(dir: string, opts: { bodies?: boolean } = {}): Promise<DeadLetter[]> {
  const byId = new Map<number, DeadLetter>();
  /** New message id → the dead letter it redrives. */
  const redrives = new Map<number, DeadLetter>();
  for await (const r of readRecords(dir)) {
    if (r.type === 'deadletter') {
      const p = recordSchemas.deadletter.safeParse(r);
      if (!p.success) continue; // `outheis journal` shows it as unreadable
      const d = p.data;
      byId.set(d.id, {
        seq: d.seq, at: d.at, id: d.id, from: d.from, to: d.agent, kind: d.kind, qos: d.qos, attempts: d.attempts, reason: d.reason,
        // A copy: the record's bytes are a view into its whole segment.
        body: opts.bodies && d.body ? Buffer.from(d.body) : undefined,
      });
    } else if (r.type === 'accept' && typeof r.redrive === 'number' && typeof r.id === 'number') {
      const d = byId.get(r.redrive);
      // A carried copy of the redriving message is the same message: the first record says when.
      if (d && !d.redriven) {
        d.redriven = { id: r.id, seq: r.seq, at: r.at, handled: false };
        redrives.set(r.id, d);
      }
    } else if (r.type === 'ack' && redrives.size && Array.isArray(r.ids)) {
      for (const id of r.ids as unknown[]) {
        const d = typeof id === 'number' ? redrives.get(id) : undefined;
        if (d) d.redriven!.handled = true;
      }
    }
  }
  const out = [...byId.values()].sort((a, b) => a.seq - b.seq);
  if (opts.bodies) await findBodies(dir, out.filter((d) => !d.body && pendingRedrive(d)));
  return out;
}

/** Dead letters from before they carried their message: the body from the accept record, where retention left it. */
async function findBodies(dir: string, missing: DeadLetter[]): Promise<void> {
  if (!missing.length) return;
  const want = new Map(missing.map((d) => [d.id, d]));
  for await (const r of readRecords(dir)) {
    if (r.type !== 'accept' || typeof r.id !== 'number') continue;
    const d = want.get(r.id);
    if (!d || !(r.body instanceof Uint8Array)) continue;
    d.body = Buffer.from(r.body);
    if (d.qos === undefined) d.qos = (r as JournalRecord & { qos: Qos }).qos;
    want.delete(r.id);
    if (!want.size) return;
  }
}
