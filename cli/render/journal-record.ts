// Journal records for people and for scripts (`outheis journal`):
//   1042 12:03:04.120 accept     #77 alice → bob  kind=greet  {"name":"x"}
//   1043 12:03:04.121 deliver    bob #77 #78 (+3 more)
// Each record is checked against its schema first, so a record from a newer or
// damaged journal is shown as unreadable instead of misread. Everything an agent
// chose (names, kinds, bodies, reasons) is stripped of terminal controls: a
// message body must not be able to drive the operator's terminal.
import type * as z from 'zod';
import type { Paint } from './color.js';
import { truncateText } from './table.js';
import { unpackValue } from '../../protocol/frame.js';
import type { JournalRecord } from '../../logs/journal/record.js';
import { journalRecordSchema, type AnyRecord, type RecordOf } from '../../logs/journal/schema.js';
import type { DeadLetter } from '../../logs/journal/deadletters.js';

/** The widest body or checkpoint shown on a line, in characters. */
export const VALUE_WIDTH = 80;
/** Ids listed on a deliver or ack line before `(+N more)`. */
const IDS_SHOWN = 8;
/** Wide enough for the longest type names (checkpoint, deadletter). */
const TYPE_WIDTH = 10;

const UNSAFE = /[\u0000-\u001F\u007F-\u009F]/g;
const clean = (s: string): string => s.replace(UNSAFE, ' ');
const pad2 = (n: number): string => String(n).padStart(2, '0');

/** HH:MM:ss.mmm in local time, as `outheis logs` shows its records. */
export function formatClock(at: number): string {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return '??:??:??.???';
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

export type Checked = { ok: true; record: AnyRecord } | { ok: false; seq: number; message: string };

/** zod's issues as one line: `body: expected bytes; to: Invalid input`. */
function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

export function checkRecord(r: JournalRecord): Checked {
  const parsed = journalRecordSchema.safeParse(r);
  if (parsed.success) return { ok: true, record: parsed.data as AnyRecord };
  const type = typeof r.type === 'string' ? ` (type ${JSON.stringify(r.type)})` : '';
  return { ok: false, seq: r.seq, message: `${describeIssues(parsed.error)}${type}` };
}

/** msgpack bytes as a value; undefined when they do not decode. */
function decode(bytes: Uint8Array): { value: unknown } | undefined {
  if (bytes.length === 0) return { value: null };
  try {
    return { value: unpackValue(bytes) };
  } catch {
    return undefined;
  }
}

/** JSON.stringify for decoded msgpack: bytes as base64, bigints as strings (neither is JSON). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, v: unknown) {
    const raw = this[key]; // before Buffer's toJSON turned it into {type, data}
    if (raw instanceof Uint8Array) return { base64: Buffer.from(raw).toString('base64') };
    return typeof v === 'bigint' ? v.toString() : v;
  }) ?? 'undefined';
}

/** A body or checkpoint as a short line: its JSON, cut; `<N bytes>` when it is not msgpack. */
function shortValue(bytes: Uint8Array): string {
  const d = decode(bytes);
  if (!d) return `<${bytes.length} bytes>`;
  return truncateText(clean(toJson(d.value)), VALUE_WIDTH);
}

function ids(list: readonly number[]): string {
  const shown = list.slice(0, IDS_SHOWN).map((id) => `#${id}`).join(' ');
  return list.length > IDS_SHOWN ? `${shown} (+${list.length - IDS_SHOWN} more)` : shown;
}

/** What follows the type, and how it is coloured: failures red, dead letters yellow. */
function details(r: AnyRecord, paint: Paint): { text: string; style?: (s: string) => string } {
  switch (r.type) {
    case 'accept': {
      const flags = [r.req ? 'request' : '', r.redrive !== undefined ? `redrive of #${r.redrive}` : '', r.carried !== undefined ? `carried from segment ${r.carried}` : ''].filter(Boolean).join(', ');
      return { text: `#${r.id} ${r.from} → ${r.to}  kind=${r.kind} qos=${r.qos}${flags ? ` (${flags})` : ''}  ${shortValue(r.body)}` };
    }
    case 'deliver': return { text: `${r.agent} ${ids(r.ids)}` };
    case 'ack': return { text: `${r.agent} ${ids(r.ids)}` };
    case 'deadletter':
      return { text: `${r.agent} #${r.id} from ${r.from} kind=${r.kind} after ${r.attempts} attempt${r.attempts === 1 ? '' : 's'}: ${r.reason}`, style: paint.yellow };
    case 'checkpoint': return { text: `${r.agent} ${shortValue(r.state)}` };
    case 'start': return { text: `pid ${r.pid} config ${r.config} version ${r.version}` };
    case 'stop': return { text: `code ${r.code}`, ...(r.code !== 0 ? { style: paint.red } : {}) };
    case 'spawn': return { text: `${r.agent} pid ${r.pid}` };
    case 'ready': return { text: r.pid === null ? r.agent : `${r.agent} pid ${r.pid}` };
    case 'exit':
      return r.clean ? { text: `${r.agent} ${r.reason} (clean)` } : { text: `${r.agent} ${r.reason} (FAILED)`, style: paint.red };
    case 'restart': return { text: `${r.agent} in ${r.delayMs}ms: ${r.reason}` };
    case 'escalate': return { text: `${r.group}: ${r.reason}`, style: paint.red };
    case 'limit': return { text: `${r.agent} ${r.limit}: ${r.reason}`, style: paint.red };
    case 'denied': return { text: `${r.agent} → ${r.to} kind=${r.kind}: not pledged`, style: paint.yellow };
    case 'lost':
      return { text: `journal lost and recreated: ${r.reason}; ${r.carried} owed message${r.carried === 1 ? '' : 's'} and ${r.checkpoints} checkpoint${r.checkpoints === 1 ? '' : 's'} carried from memory`, style: paint.red };
    case 'reload': return reloadDetails(r, paint);
    case 'fired': return { text: `schedule ${r.schedule} last fired slot ${new Date(r.slot).toISOString()} as #${r.id} to ${r.to}${r.carried !== undefined ? ` (carried from segment ${r.carried})` : ''}` };
  }
}

/** `applied: +c -b ↻a(qos) groups rebuilt: g; not applied: journal.fsync`, or `REFUSED: agents.x.run: …`. */
function reloadDetails(r: RecordOf<'reload'>, paint: Paint): { text: string; style?: (s: string) => string } {
  if (!r.ok) return { text: `REFUSED, the running config stays: ${r.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`, style: paint.red };
  const parts = [
    r.added.length ? `added ${r.added.join(', ')}` : '',
    r.removed.length ? `removed ${r.removed.join(', ')}${r.deadLettered ? ` (${r.deadLettered} dead-lettered)` : ''}` : '',
    ...r.changed.map((c) => `restarted ${c.agent} (${c.keys.join(', ')})`),
    r.rebuilt.length ? `rebuilt ${r.rebuilt.join(', ')} (${r.restarted.filter((n) => !r.changed.some((c) => c.agent === n)).join(', ')})` : '',
    r.inPlace.length ? `in place ${r.inPlace.join(', ')}` : '',
    r.notApplied.length ? `NOT APPLIED ${r.notApplied.map((s) => s.key).join(', ')}` : '',
    r.notReady.length ? `NOT READY ${r.notReady.join(', ')}` : '',
  ].filter(Boolean);
  const text = `${parts.length ? parts.join('; ') : 'unchanged'}; agents: ${r.agents.join(', ')}`;
  return r.notApplied.length || r.notReady.length ? { text, style: paint.yellow } : { text };
}

/** One line, no newline. */
export function formatRecord(r: JournalRecord, paint: Paint): string {
  const checked = checkRecord(r);
  if (!checked.ok) return `${r.seq} ? ${paint.red(clean(`unreadable record: ${checked.message}`))}`;
  const rec = checked.record;
  const d = details(rec, paint);
  const text = clean(d.text);
  return `${rec.seq} ${paint.dim(formatClock(rec.at))} ${paint.bold(rec.type.padEnd(TYPE_WIDTH))} ${d.style ? d.style(text) : text}`;
}

/** Bytes as JSON: the decoded value, or its base64 when it is not msgpack. */
function bytesValue(bytes: Uint8Array): unknown {
  const d = decode(bytes);
  return d ? d.value ?? null : { base64: Buffer.from(bytes).toString('base64') };
}

/** One JSON line, no newline: the record with its body (or state) decoded and its size in bodyBytes (stateBytes). */
export function recordJson(r: JournalRecord): string {
  const checked = checkRecord(r);
  if (!checked.ok) return JSON.stringify({ seq: checked.seq, unreadable: checked.message });
  const rec = checked.record;
  if (rec.type === 'accept') return toJson({ ...rec, body: bytesValue(rec.body), bodyBytes: rec.body.length });
  if (rec.type === 'deadletter' && rec.body) return toJson({ ...rec, body: bytesValue(rec.body), bodyBytes: rec.body.length });
  if (rec.type === 'checkpoint') return toJson({ ...rec, state: bytesValue(rec.state), stateBytes: rec.state.length });
  return toJson(rec);
}

/** `2026-05-01 12:03:04`, local time: dead letters can be days old. */
function formatWhen(at: number): string {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return '????-??-?? ??:??:??';
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** What became of a dead letter: pending, or redriven as a new message, which may have been handled since. */
export function deadLetterState(d: DeadLetter): 'pending' | 'redriven' | 'handled' {
  return !d.redriven ? 'pending' : d.redriven.handled ? 'handled' : 'redriven';
}

/** `1042 2026-05-01 12:03:04 #77 alice → bob kind=greet after 5 attempts: reason  pending` (one line, no newline). */
export function formatDeadLetter(d: DeadLetter, paint: Paint): string {
  const state = deadLetterState(d);
  const fate = state === 'pending' ? paint.yellow('pending') : `${state === 'handled' ? 'handled' : 'redriven'} as #${d.redriven!.id}`;
  const text = clean(`#${d.id} ${d.from} → ${d.to} kind=${d.kind} after ${d.attempts} attempt${d.attempts === 1 ? '' : 's'}: ${d.reason}`);
  return `${d.seq} ${paint.dim(formatWhen(d.at))} ${text}  ${fate}`;
}

/** One JSON line, no newline. */
export function deadLetterJson(d: DeadLetter): string {
  return JSON.stringify({
    seq: d.seq, at: d.at, id: d.id, from: d.from, to: d.to, kind: d.kind, qos: d.qos ?? null, attempts: d.attempts, reason: d.reason,
    state: deadLetterState(d), redrivenAs: d.redriven?.id ?? null,
  });
}
