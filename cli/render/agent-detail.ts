// `outheis status <agent>`: one agent in depth, to find out why it failed, in the
// spirit of `systemctl status UNIT`: a head line, its manifest as configured, its
// isolation, restarts in the window and the pending backoff, then its last exits,
// newest first, each with the stderr lines it printed before it. What must not be
// missed (a failure, weaker isolation) is said in words, not only in colour.
import type { DetailResult, ExitRecordJson, ManifestJson } from '../../supervisor/control/protocol.js';
import type { Paint } from './color.js';
import { formatAgo, formatBytes, formatDuration, formatMs, formatPercent } from './format.js';
import { paintState } from './status.js';

export interface DetailOptions {
  /** ms since the epoch, for "12s ago" */
  now: number;
  paint: Paint;
}

const LABEL = 12;
const UNSAFE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g; // an agent's stderr must not drive the operator's terminal
const row = (label: string, value: string, paint: Paint): string => `  ${paint.dim(label.padEnd(LABEL))}${value}`;
const list = (xs: readonly string[]): string => (xs.length ? xs.join(', ') : '-');

const time = (at: number): string => {
  const d = new Date(at);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
};

function limits(l: ManifestJson['limits']): string {
  const parts = [
    l.memory !== null ? `memory ${formatBytes(l.memory)}` : undefined,
    l.cpu !== null ? `cpu ${formatPercent(l.cpu * 100)}` : undefined,
    l.nofile !== null ? `nofile ${l.nofile}` : undefined,
    l.nproc !== null ? `nproc ${l.nproc}` : undefined,
    `frame ${formatBytes(l.frame)}`,
    `mailbox ${l.mailbox}`,
  ];
  return parts.filter(Boolean).join(' · ');
}

function manifest(m: ManifestJson, paint: Paint): string[] {
  const unveil = Object.entries(m.unveil).map(([path, mode]) => `${path} (${mode})`);
  return [
    paint.bold('manifest'),
    row('run', [m.run, ...m.args].join(' '), paint),
    row('restart', `${m.restart} · qos ${m.qos}${m.after.length ? ` · after ${m.after.join(', ')}` : ''}${m.user ? ` · user ${m.user}` : ''}`, paint),
    row('pledge', list(m.pledge), paint),
    row('owns', list(m.owns), paint),
    row('unveil', list(unveil), paint),
    row('env', m.env.length ? `${m.env.join(', ')} ${paint.dim('(names only)')}` : '-', paint),
    row('limits', limits(m.limits), paint),
    row('timing', `heartbeat ${m.heartbeatMs ? formatMs(m.heartbeatMs) : 'off'} · shutdown ${formatMs(m.shutdownMs)} · start timeout ${formatMs(m.startTimeoutMs)}`, paint),
  ];
}

function exit(e: ExitRecordJson, now: number, paint: Paint): string[] {
  const how = e.clean ? paint.dim(e.reason) : paint.red(e.reason);
  const head = `  ${time(e.at)}  ${how}  ${paint.dim(`(${formatAgo(e.at, now)})`)}`;
  if (!e.stderr.length) return [head, `      ${paint.dim('no stderr')}`];
  return [head, ...e.stderr.map((l) => `      ${paint.dim('│')} ${l.replace(UNSAFE, '')}`)];
}

export function renderDetail(d: DetailResult, o: DetailOptions): string {
  const { paint, now } = o;
  const a = d.agent;
  const name = a.group ? `${a.group}/${a.name}` : a.name;
  const up = a.state === 'running' ? ` · up ${formatDuration(a.uptimeMs)}` : '';
  const lines = [
    `${paint.bold(name)}  ${paintState(a.state, paint)(a.state)}${a.pid !== null ? ` · pid ${a.pid}` : ''}${up} · ${a.restarts} restart${a.restarts === 1 ? '' : 's'} since start`,
    ...manifest(d.manifest, paint),
    paint.bold('supervision'),
  ];
  const iso = `${a.isolation.layers.join(', ') || '-'}${a.isolation.sampled?.length ? ` (no cgroup: ${a.isolation.sampled.join(', ')} only sampled)` : ''}`;
  lines.push(row('isolation', a.isolation.weaker ? paint.bold(paint.red(`WEAKER than its manifest asks: ${iso}`)) : iso, paint));
  const r = d.restarts;
  const allowed = `${r.group === 'root' ? 'the root supervisor' : `group ${r.group}`} allows ${r.intensity} within ${formatMs(r.windowMs)}`;
  lines.push(row('restarts', `${r.inWindow} in the last ${formatMs(r.windowMs)} (${allowed})`, paint));
  if (d.backoff) lines.push(row('backoff', paint.yellow(`next start in ${formatMs(Math.max(0, d.backoff.nextStartAt - now))} (a delay of ${formatMs(d.backoff.delayMs)})`), paint));
  lines.push(paint.bold(`last exits${d.exits.length ? ', newest first' : ''}`));
  if (!d.exits.length) lines.push(`  ${paint.dim('none since the supervisor started')}`);
  for (const e of d.exits) lines.push(...exit(e, now, paint));
  return lines.join('\n');
}
