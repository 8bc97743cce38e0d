// `outheis status`: one line about the supervisor, then a table of agents, in
// the spirit of `pm2 list` and `systemctl status`. What an operator must not
// miss (a failed agent, weaker isolation, memory near its limit) is marked in
// the text itself, not only in colour, so it survives NO_COLOR and a pipe.
import type { AgentState, AgentStatusJson, StatusResult } from '../../supervisor/control/protocol.js';
import type { Paint, Style } from './color.js';
import { formatAgo, formatBytes, formatCount, formatDuration, formatExit, formatExitLong, formatPercent } from './format.js';
import { fitParts, renderTable, truncateText, type Cell, type Column, type LinePart } from './table.js';

export interface StatusOptions {
  /** ms since the epoch, for "12s ago" */
  now: number;
  /** terminal columns; undefined: no limit */
  width?: number;
  paint: Paint;
  /** whole exit reasons instead of their short form */
  wide?: boolean;
}

/** The order states are listed in: the healthy first, as `systemctl` does. */
export const STATE_ORDER: readonly AgentState[] = ['running', 'starting', 'backoff', 'stopping', 'stopped', 'failed'];

/** Memory use from this share of the limit on is flagged: the next spike may be a kill. */
const MEMORY_WARN = 0.8;

export function countStates(agents: readonly AgentStatusJson[]): Record<AgentState, number> {
  const counts = Object.fromEntries(STATE_ORDER.map((s) => [s, 0])) as Record<AgentState, number>;
  for (const a of agents) counts[a.state]++;
  return counts;
}

export function paintState(state: AgentState, paint: Paint): Style {
  switch (state) {
    case 'running': return paint.green;
    case 'failed': return (s) => paint.bold(paint.red(s));
    case 'stopped': return paint.dim;
    default: return paint.yellow;
  }
}

interface AgentColumn extends Column {
  cell(a: AgentStatusJson, o: StatusOptions): Cell;
}

function memoryCell(a: AgentStatusJson, paint: Paint): Cell {
  if (a.memoryLimit === null) return formatBytes(a.rss);
  const text = `${formatBytes(a.rss)}/${formatBytes(a.memoryLimit)}`;
  if (a.rss === null || a.memoryLimit <= 0 || a.rss < a.memoryLimit * MEMORY_WARN) return text;
  return { text: `${text}!`, paint: a.rss >= a.memoryLimit ? (s) => paint.bold(paint.red(s)) : paint.yellow };
}

function isolationCell(a: AgentStatusJson, paint: Paint): Cell {
  const layers = a.isolation.layers.join(',');
  // Leads with the marker so that truncation never cuts it.
  // Without a cgroup, the limits only sampled are named: the kernel does not hold them.
  const sampled = a.isolation.sampled?.length ? ` sampled:${a.isolation.sampled.join(',')}` : '';
  if (a.isolation.weaker) return { text: `WEAKER${sampled}${layers ? ` ${layers}` : ''}`, paint: (s) => paint.bold(paint.red(s)) };
  return layers ? layers : { text: '-', paint: paint.dim };
}

// Priorities: AGENT, STATE, PID, ↺, CPU and MEM are the core and stay at 80
// columns; ISOLATION is the last of the rest to go, as weaker isolation is a
// security matter; QOS, which the config file already says, goes first.
const COLUMNS: readonly AgentColumn[] = [
  {
    header: 'AGENT', priority: 100, minWidth: 16,
    cell: (a, o) => (a.group === null ? a.name : o.paint.dim(`${a.group}/`) + a.name),
  },
  { header: 'PID', align: 'right', priority: 85, cell: (a) => (a.pid === null ? '-' : String(a.pid)) },
  { header: 'STATE', priority: 90, cell: (a, o) => ({ text: a.state, paint: paintState(a.state, o.paint) }) },
  { header: 'UPTIME', align: 'right', priority: 50, cell: (a) => (a.uptimeMs > 0 ? formatDuration(a.uptimeMs) : '-') },
  {
    header: '↺', align: 'right', priority: 80,
    cell: (a, o) => (a.restarts > 0 ? { text: String(a.restarts), paint: o.paint.yellow } : '0'),
  },
  {
    header: 'LAST EXIT', priority: 30, minWidth: 10,
    cell: (a, o) => {
      if (!a.lastExit) return { text: '-', paint: o.paint.dim };
      const text = o.wide ? formatExitLong(a.lastExit, o.now) : formatExit(a.lastExit, o.now);
      return { text, paint: a.lastExit.clean ? o.paint.dim : o.paint.red };
    },
  },
  { header: 'CPU', align: 'right', priority: 75, cell: (a) => formatPercent(a.cpu) },
  { header: 'MEM', align: 'right', priority: 70, cell: (a, o) => memoryCell(a, o.paint) },
  // queued+in flight: what waits, and what the agent is working on right now.
  {
    header: 'MAILBOX', align: 'right', priority: 40,
    cell: (a) => (a.inflight > 0 ? `${a.mailbox}+${a.inflight}` : String(a.mailbox)),
  },
  { header: 'QOS', priority: 20, cell: (a) => a.qos },
  { header: 'ISOLATION', priority: 60, minWidth: 10, cell: (a, o) => isolationCell(a, o.paint) },
];

/** The agents table: a header line, then one line per agent in the order given. */
export function renderAgentTable(agents: readonly AgentStatusJson[], opts: StatusOptions): string[] {
  const rows = agents.map((a) => COLUMNS.map((c) => c.cell(a, opts)));
  return renderTable(COLUMNS, rows, { width: opts.width, paint: opts.paint });
}

/** `3 running, 1 backoff`: only the states someone is in. */
export function describeStates(agents: readonly AgentStatusJson[], paint: Paint): string {
  const counts = countStates(agents);
  return STATE_ORDER.filter((s) => counts[s] > 0).map((s) => paintState(s, paint)(`${counts[s]} ${s}`)).join(', ');
}

/** `outheis 0.1.0 · pid 4242 · up 3m05s · 4 agents (3 running, 1 backoff) · cpu 0.4% · rss 71.2M · /etc/outheis.yaml` */
export function renderSupervisorLine(s: StatusResult, opts: { width?: number; paint: Paint }): string {
  const { supervisor: sup, agents } = s;
  const { paint } = opts;
  const parts: LinePart[] = [
    { text: paint.bold(`outheis ${sup.version}`), priority: 100 },
    ...(sup.stopping ? [{ text: paint.bold(paint.yellow('stopping')), priority: 95 }] : []),
    { text: `pid ${sup.pid}`, priority: 80 },
    { text: `up ${formatDuration(sup.uptimeMs)}`, priority: 70 },
    { text: formatCount(agents.length, 'agent'), priority: 60 },
    // The breakdown repeats the table's STATE column: on a narrow terminal it goes before the supervisor's own numbers.
    ...(agents.length > 0 ? [{ text: `(${describeStates(agents, paint)})`, priority: 30, glue: ' ' }] : []),
    { text: `cpu ${formatPercent(sup.cpu)}`, priority: 50 },
    { text: `rss ${formatBytes(sup.rss)}`, priority: 50 },
    { text: sup.config, priority: 10 },
  ];
  return fitParts(parts, opts.width);
}

/** A line naming every agent that runs with less isolation than its manifest asks, or null when none does. */
export function renderWeakerWarning(agents: readonly AgentStatusJson[], opts: { width?: number; paint: Paint }): string | null {
  const weaker = agents.filter((a) => a.isolation.weaker).map((a) => (a.group === null ? a.name : `${a.group}/${a.name}`));
  if (weaker.length === 0) return null;
  const { paint } = opts;
  // The names come early, so that they survive a cut to the terminal width.
  const who = weaker.length === 1 ? `${weaker[0]} runs` : `${weaker.length} agents (${weaker.join(', ')}) run`;
  // Sandboxed but without a cgroup (cgroups cannot be written here): only the limits are weaker.
  const onlyLimits = agents.filter((a) => a.isolation.weaker).every((a) => a.isolation.sampled !== undefined && a.isolation.layers.includes('namespaces'));
  const what = onlyLimits ? 'no cgroup: CPU priority is nice, and limits.cpu and limits.memory are only sampled' : 'unveil and pledge are not enforced by the OS for them';
  const line = `${paint.bold(paint.red('WEAKER isolation'))}: ${who} with less isolation than the manifest asks: ${what}`;
  return opts.width === undefined ? line : truncateText(line, opts.width);
}

/**
 * `journal 3.5M/1.0G in 2 segments · seq 48213 · fsync batch · 2 dead letters (notes 2)`, or null without a journal.
 * Failing writes (a full disk) lead the line: sends are being refused.
 */
export function renderJournalLine(s: StatusResult, opts: { width?: number; paint: Paint }): string | null {
  const j = s.supervisor.journal;
  if (!j) return null;
  const { paint } = opts;
  const dead = s.agents.filter((a) => a.deadLetters > 0);
  const deadTotal = dead.reduce((n, a) => n + a.deadLetters, 0);
  const parts: LinePart[] = [
    ...(j.failures > 0 ? [{ text: paint.bold(paint.red(`JOURNAL FAILING (${j.failures}): ${j.lastError ?? 'write failed'}`)), priority: 100 }] : []),
    ...(j.losses?.length ? [{ text: paint.bold(paint.red(`JOURNAL LOST AND RECREATED ${j.losses.length}× (last: ${j.losses[j.losses.length - 1]!.reason})`)), priority: 98 }] : []),
    ...(j.damaged.length > 0 ? [{ text: paint.bold(paint.red(`DAMAGE MOVED ASIDE at start: ${j.damaged.map((d) => d.movedTo).join(', ')}`)), priority: 99 }] : []),
    { text: `journal ${formatBytes(j.bytes)}/${formatBytes(j.maxBytes)} in ${formatCount(j.segments, 'segment')}`, priority: 90 },
    { text: `seq ${j.lastSeq}`, priority: 60 },
    { text: `fsync ${j.fsync}`, priority: 40 },
    ...(deadTotal > 0 ? [{ text: paint.yellow(`${formatCount(deadTotal, 'dead letter')} (${dead.map((a) => `${a.name} ${a.deadLetters}`).join(', ')})`), priority: 80 }] : []),
  ];
  return fitParts(parts, opts.width);
}

/** The whole `status` output, without a trailing newline. Every line fits `opts.width` when given. */
export function renderStatus(s: StatusResult, opts: StatusOptions): string {
  const lines = [renderSupervisorLine(s, opts)];
  const journal = renderJournalLine(s, opts);
  if (journal !== null) lines.push(journal);
  lines.push('');
  if (s.agents.length === 0) {
    lines.push(opts.width === undefined ? 'no agents' : truncateText('no agents', opts.width));
  } else {
    lines.push(...renderAgentTable(s.agents, opts));
    const warning = renderWeakerWarning(s.agents, opts);
    if (warning !== null) lines.push('', warning);
  }
  return lines.join('\n');
}

// ---- schedules (supervisor/schedules/) ------------------------------------------

type ScheduleRow = NonNullable<StatusResult['schedules']>[number];

const SCHEDULE_COLUMNS: readonly (Column & { cell(s: ScheduleRow, o: StatusOptions): Cell })[] = [
  { header: 'SCHEDULE', priority: 100, minWidth: 10, cell: (s) => s.name },
  { header: 'TO', priority: 95, cell: (s) => `${s.to} ${s.kind}` },
  { header: 'WHEN', priority: 90, minWidth: 10, cell: (s) => s.spec + (s.catchUp ? ' catch_up' : '') },
  {
    header: 'LAST', priority: 80,
    cell: (s, o) => (s.last === null ? { text: 'never', paint: o.paint.dim } : `${formatAgo(s.last.slot, o.now)}${s.last.id === null ? '' : ` #${s.last.id}`}${s.last.pending ? ' (unhandled)' : ''}`),
  },
  { header: 'NEXT', priority: 85, cell: (s, o) => (s.next === null ? { text: 'none', paint: o.paint.dim } : `in ${formatDuration(Math.max(0, s.next - o.now))}`) },
  { header: 'SKIPPED', align: 'right', priority: 70, cell: (s, o) => (s.skipped > 0 ? { text: String(s.skipped), paint: o.paint.yellow } : '0') },
];

/** The schedules' table, after the agents'; nothing when the config has none. */
export function renderSchedules(s: StatusResult, opts: StatusOptions): string[] {
  const rows = s.schedules ?? [];
  if (!rows.length) return [];
  return ['', ...renderTable(SCHEDULE_COLUMNS, rows.map((r) => SCHEDULE_COLUMNS.map((c) => c.cell(r, opts))), { width: opts.width, paint: opts.paint })];
}

// ---- several hosts (cluster:) ----------------------------------------------------

type ClusterRow = NonNullable<StatusResult['cluster']>;

/**
 * One line for the link, then one per remote agent with what is owed to it. A link
 * that is down says so first, in words, with what it last saw: sends are still
 * accepted then, and pile up as owed.
 */
export function renderCluster(s: StatusResult, opts: StatusOptions): string[] {
  const c: ClusterRow | undefined = s.cluster;
  if (!c) return [];
  const { paint, now } = opts;
  const owedTotal = c.owed.reduce((n, o) => n + o.owed, 0);
  const parts: LinePart[] = [
    c.connected
      ? { text: paint.green(`cluster ${c.host}: connected to ${c.server ?? 'NATS'} for ${formatDuration(now - c.since)}`), priority: 100 }
      : { text: paint.bold(paint.red(`cluster ${c.host}: NATS UNREACHABLE for ${formatDuration(now - c.since)}${c.lastError ? ` (${c.lastError})` : ''}`)), priority: 100 },
    { text: `peers ${c.peers.length ? c.peers.join(',') : 'none seen'}`, priority: 80 },
    { text: owedTotal > 0 ? paint.yellow(`owed ${owedTotal}`) : 'owed 0', priority: 90 },
    { text: `lag ${c.pending ?? '?'} (unacked ${c.ackPending ?? '?'})`, priority: 70 },
  ];
  const byHost = new Map<string, number>();
  for (const o of c.owed) byHost.set(o.host, (byHost.get(o.host) ?? 0) + o.owed);
  const rows = [...byHost].map(([host, owed]) => `  to ${host}: ${formatCount(owed, 'message')} owed (${c.owed.filter((o) => o.host === host).map((o) => `${o.agent} ${o.owed}`).join(', ')})`);
  return ['', fitParts(parts, opts.width), ...rows.map((r) => (opts.width === undefined ? r : truncateText(r, opts.width)))];
}
