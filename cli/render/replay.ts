// `outheis replay` (and `replay --live`): the state the journal describes, as a
// header line, a table of agents, and who is owed which messages.
//   as of seq 1042 (2024-05-01 12:03:04.120), supervisor running (pid 4242), runs 2, dead letters 1
import { formatClock, toJson } from './journal-record.js';
import type { AgentView, StateView } from '../../logs/journal/replay.js';
import type { Paint } from './color.js';
import { formatExit } from './format.js';
import { renderTable, truncateText, type Cell, type Column } from './table.js';

export interface ReplayOptions {
  /** terminal columns; undefined: no limit */
  width?: number;
  paint: Paint;
}

/** Pending ids listed per agent before `(+N more)`. */
const PENDING_SHOWN = 20;
const CHECKPOINT_WIDTH = 60;

const UNSAFE = /[\u0000-\u001F\u007F-\u009F]/g;
const clean = (s: string): string => s.replace(UNSAFE, ' ');
const pad2 = (n: number): string => String(n).padStart(2, '0');

/** 2024-05-01 12:03:04.120, local time: a replay point may be days back, so the date is part of it. */
export function formatDateTime(at: number): string {
  const d = new Date(at);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${formatClock(at)}`;
}

export function renderReplayHeader(v: StateView, paint: Paint): string {
  if (v.seq === 0) return 'as of seq 0 (the journal is empty)';
  const s = v.supervisor;
  const sup = s.running
    ? `supervisor ${paint.green('running')}${s.pid === null ? '' : ` (pid ${s.pid})`}`
    : `supervisor ${paint.dim('stopped')}${s.pid === null ? '' : ` (last pid ${s.pid})`}`;
  const dead = v.deadLetters > 0 ? paint.yellow(`dead letters ${v.deadLetters}`) : 'dead letters 0';
  return `as of seq ${v.seq} (${formatDateTime(v.at)}), ${sup}, runs ${s.runs}, ${dead}`;
}

type Row = [string, AgentView];

const COLUMNS: readonly (Column & { cell(r: Row, p: Paint): Cell })[] = [
  { header: 'AGENT', priority: 100, minWidth: 12, cell: ([name]) => clean(name) },
  { header: 'UP', priority: 90, cell: ([, a], p) => (a.up ? { text: 'up', paint: p.green } : { text: 'down', paint: p.dim }) },
  { header: 'PID', align: 'right', priority: 60, cell: ([, a]) => (a.pid === null ? '-' : String(a.pid)) },
  { header: '↺', align: 'right', priority: 80, cell: ([, a], p) => (a.restarts > 0 ? { text: String(a.restarts), paint: p.yellow } : '0') },
  { header: 'PENDING', align: 'right', priority: 85, cell: ([, a]) => String(a.pending.length) },
  {
    header: 'CHECKPOINT', priority: 40, minWidth: 10,
    cell: ([, a], p) => (a.checkpoint === null ? { text: '-', paint: p.dim } : truncateText(clean(toJson(a.checkpoint)), CHECKPOINT_WIDTH)),
  },
  { header: 'DEAD', align: 'right', priority: 70, cell: ([, a], p) => (a.deadLetters > 0 ? { text: String(a.deadLetters), paint: p.yellow } : '0') },
  {
    header: 'LAST EXIT', priority: 50, minWidth: 8,
    cell: ([, a], p) => {
      if (!a.lastExit) return { text: '-', paint: p.dim };
      // formatExit's short form (code 3, SIGKILL, memory limit) needs no time: pass none.
      const text = clean(formatExit({ ...a.lastExit, at: 0 }));
      return { text, paint: a.lastExit.clean ? p.dim : p.red };
    },
  },
];

/** `pending for bob: #3 #4 #5 (+2 more)`, one line per agent that is owed messages. */
export function renderPending(v: StateView): string[] {
  return Object.entries(v.agents)
    .filter(([, a]) => a.pending.length > 0)
    .map(([name, a]) => {
      const shown = a.pending.slice(0, PENDING_SHOWN).map((id) => `#${id}`).join(' ');
      const more = a.pending.length > PENDING_SHOWN ? ` (+${a.pending.length - PENDING_SHOWN} more)` : '';
      return `pending for ${clean(name)}: ${shown}${more}`;
    });
}

/** The whole output, without a trailing newline. */
export function renderReplay(v: StateView, opts: ReplayOptions): string {
  const fit = (s: string): string => (opts.width === undefined ? s : truncateText(s, opts.width));
  const lines = [fit(renderReplayHeader(v, opts.paint)), ''];
  if (v.lastReload) {
    const r = v.lastReload;
    const how = r.ok ? 'applied' : opts.paint.red('refused');
    lines.splice(1, 0, fit(`last reload: seq ${r.seq} (${formatDateTime(r.at)}), ${how}; agents: ${clean(r.agents.join(', '))}`));
  }
  const rows = Object.entries(v.agents);
  if (rows.length === 0) lines.push('no agents');
  else lines.push(...renderTable(COLUMNS, rows.map((r) => COLUMNS.map((c) => c.cell(r, opts.paint))), { width: opts.width, paint: opts.paint }));
  const pending = renderPending(v);
  if (pending.length) lines.push('', ...pending.map(fit));
  const schedules = renderScheduleSlots(v);
  if (schedules.length) lines.push('', ...schedules.map(fit));
  return lines.join('\n');
}

/** `schedule nightly: last fired slot 2024-05-01 03:30:00.000 as #17 to pattern (owed)`, one line per schedule that has fired. */
export function renderScheduleSlots(v: StateView): string[] {
  return Object.entries(v.schedules ?? {}).map(([name, s]) =>
    `schedule ${clean(name)}: last fired slot ${formatDateTime(s.slot)} as #${s.id} to ${clean(s.to)} (${s.owed ? 'owed' : 'handled'})`);
}
