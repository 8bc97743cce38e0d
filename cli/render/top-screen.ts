// `outheis top`: a frame like top(1)'s (summary lines, the status table, a key
// hint), and a screen that redraws it in place. Redrawing overwrites line by
// line and clears only what is left over, instead of clearing the screen each
// frame, which flickers.
import type { AgentState, AgentStatusJson, StatusResult } from '../../supervisor/control/protocol.js';
import { stripAnsi, type Paint } from './color.js';
import { formatBytes, formatCount, formatDuration, formatPercent } from './format.js';
import { countStates, paintState, renderAgentTable, renderJournalLine, renderWeakerWarning, STATE_ORDER } from './status.js';
import { fitParts, measureWidth, truncateText } from './table.js';

export type SortKey = 'name' | 'cpu' | 'mem' | 'restarts';

/** The order the `s` key steps through; after the last comes start order again (no sort key). */
export const SORT_KEYS: readonly SortKey[] = ['cpu', 'mem', 'restarts', 'name'];

/** The sort after `current` when the operator presses `s`; undefined is start order. */
export function cycleSort(current: SortKey | undefined): SortKey | undefined {
  if (current === undefined) return SORT_KEYS[0];
  return SORT_KEYS[SORT_KEYS.indexOf(current) + 1];
}

export interface TopFrameOptions {
  now: number;
  width: number;
  height: number;
  paint: Paint;
  /** undefined: the order given, which is start order */
  sortBy?: SortKey;
}

const displayName = (a: AgentStatusJson): string => (a.group === null ? a.name : `${a.group}/${a.name}`);

// Busiest first; agents with no sample (not running) sink to the bottom.
const descending = (pick: (a: AgentStatusJson) => number | null) => (a: AgentStatusJson, b: AgentStatusJson): number =>
  (pick(b) ?? -1) - (pick(a) ?? -1);

function sortAgents(agents: readonly AgentStatusJson[], sortBy: SortKey | undefined): AgentStatusJson[] {
  const copy = [...agents];
  switch (sortBy) {
    case 'cpu': return copy.sort(descending((a) => a.cpu));
    case 'mem': return copy.sort(descending((a) => a.rss));
    case 'restarts': return copy.sort(descending((a) => a.restarts));
    case 'name': return copy.sort((a, b) => (displayName(a) < displayName(b) ? -1 : displayName(a) > displayName(b) ? 1 : 0));
    default: return copy;
  }
}

/** The sum of the samples there are; null when no agent has one (rather than a misleading 0). */
function total(values: (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length === 0 ? null : known.reduce((sum, v) => sum + v, 0);
}

const clock = (now: number): string => new Date(now).toTimeString().slice(0, 8);

// A state's count stays on a narrow terminal by how much it asks of the operator.
const STATE_URGENCY: Record<AgentState, number> = { failed: 90, backoff: 80, running: 70, starting: 60, stopping: 50, stopped: 40 };

function renderSummary(s: StatusResult, opts: TopFrameOptions): string[] {
  const { supervisor: sup, agents } = s;
  const { paint, width } = opts;
  const counts = countStates(agents);
  const queued = agents.reduce((n, a) => n + a.mailbox, 0);
  const inflight = agents.reduce((n, a) => n + a.inflight, 0);
  const restarts = agents.reduce((n, a) => n + a.restarts, 0);
  const journal = renderJournalLine(s, { width, paint });
  return [
    fitParts([
      { text: paint.bold(`outheis ${sup.version}`), priority: 100 },
      ...(sup.stopping ? [{ text: paint.bold(paint.yellow('stopping')), priority: 95 }] : []),
      { text: clock(opts.now), priority: 60 },
      { text: `pid ${sup.pid}`, priority: 80 },
      { text: `up ${formatDuration(sup.uptimeMs)}`, priority: 70 },
      { text: `cpu ${formatPercent(sup.cpu)}`, priority: 50 },
      { text: `rss ${formatBytes(sup.rss)}`, priority: 50 },
    ], width),
    // Zeros shown, as top shows them, so that the line keeps its shape from frame to frame, unless it is too narrow.
    fitParts([
      { text: formatCount(agents.length, 'agent'), priority: 100 },
      ...STATE_ORDER.map((st) => ({
        text: counts[st] > 0 ? paintState(st, paint)(`${counts[st]} ${st}`) : paint.dim(`0 ${st}`),
        priority: counts[st] > 0 ? STATE_URGENCY[st] : 0,
        glue: ', ',
      })),
    ], width),
    fitParts([
      { text: `all agents: cpu ${formatPercent(total(agents.map((a) => a.cpu)))}`, priority: 100 },
      { text: `rss ${formatBytes(total(agents.map((a) => a.rss)))}`, priority: 90 },
      { text: `${queued} queued, ${inflight} in flight`, priority: 80 },
      { text: formatCount(restarts, 'restart'), priority: 70 },
    ], width),
    ...(journal === null ? [] : [journal]),
  ];
}

function renderHint(sortBy: SortKey | undefined, paint: Paint): string {
  const keys = ['start', ...SORT_KEYS].map((k) => (k === (sortBy ?? 'start') ? paint.bold(`[${k}]`) : k));
  return paint.dim('q quit · s sort: ') + keys.join(' ');
}

/** One frame of `top`: at most `height` lines, none wider than `width`. */
export function renderTopFrame(s: StatusResult, opts: TopFrameOptions): string[] {
  const { width, height, paint } = opts;
  const top = [...renderSummary(s, opts), ''];
  const warning = renderWeakerWarning(s.agents, { paint });
  const bottom = [...(warning === null ? [] : [warning]), renderHint(opts.sortBy, paint)];
  let body: string[];
  if (s.agents.length === 0) {
    body = ['no agents'];
  } else {
    // The whole table is laid out even when only part of it shows, so that column widths do not jump as rows scroll out.
    const table = renderAgentTable(sortAgents(s.agents, opts.sortBy), { now: opts.now, width, paint });
    // On a short terminal the summary gives way before the table does (a header, three rows and "… more"): the agents are the point.
    const least = Math.min(5, table.length);
    while (top.length > 0 && top.length + bottom.length + least > height) top.pop();
    const room = Math.max(1, height - top.length - bottom.length);
    if (table.length <= room) {
      body = table;
    } else {
      const shown = Math.max(0, room - 2);
      body = [...table.slice(0, 1 + shown), paint.dim(`… ${table.length - 1 - shown} more`)];
    }
  }
  return [...top, ...body, ...bottom].slice(0, Math.max(0, height)).map((line) => truncateText(line, width));
}

type Out = NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };

const ENTER = '\x1b[?1049h\x1b[?25l'; // alternate screen, cursor hidden
const LEAVE = '\x1b[?25h\x1b[?1049l'; // cursor shown, main screen back
const HOME = '\x1b[H';
const CLEAR_LINE = '\x1b[K';
const CLEAR_BELOW = '\x1b[J';

/** Draws frames in place on a terminal, or one after another (each followed by a blank line) into a pipe. */
export class TopScreen {
  private readonly out: Out;
  private readonly paint: Paint;
  private entered = false;
  private closed = false;

  constructor(out: Out, opts: { paint: Paint }) {
    this.out = out;
    this.paint = opts.paint;
  }

  draw(frame: string[]): void {
    // A timer may fire after a SIGINT handler closed the screen: drawing then would re-enter the alternate screen and leave it.
    if (this.closed) return;
    // Without colour there must be no escape codes at all, even in lines someone coloured anyway.
    const lines = this.paint.enabled ? frame : frame.map(stripAnsi);
    if (this.out.isTTY !== true) {
      this.write(lines.map((l) => `${l}\n`).join('') + '\n');
      return;
    }
    let text = '';
    if (!this.entered) {
      this.entered = true;
      text += ENTER;
    }
    const columns = this.out.columns && this.out.columns > 0 ? this.out.columns : Infinity;
    const rows = this.out.rows && this.out.rows > 0 ? this.out.rows : lines.length;
    text += HOME;
    text += lines
      .slice(0, rows)
      .map((line) => {
        const clipped = truncateText(line, columns);
        // A line that fills the row leaves the cursor on its last cell, where erase-to-end would wipe that cell.
        return measureWidth(clipped) < columns ? clipped + CLEAR_LINE : clipped;
      })
      // \r\n, not \n: the output may be in raw mode while top reads single keys. No newline after the last line, which would scroll.
      .join('\r\n');
    text += CLEAR_BELOW;
    this.write(text);
  }

  /** Restores the terminal. Safe to call twice and from a signal handler: one synchronous write, no throw. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.entered) this.write(LEAVE);
  }

  private write(text: string): void {
    if (this.out.writable === false) return;
    try {
      this.out.write(text);
    } catch {
      // The terminal is gone (EPIPE, destroyed stream): nothing left to draw on or to restore.
    }
  }
}
