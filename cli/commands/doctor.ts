import type { CommandModule } from 'yargs';
import { runDoctor, type DoctorReport, type LayerStatus } from '../../policies/doctor/index.js';
import { EXIT } from '../errors.js';
import { colorEnabled, createPaint, type Paint, type Style } from '../render/color.js';
import { renderTable, type Column } from '../render/table.js';
import { printJson } from './target.js';
import { configPath } from '../config-arg.js';
import { loadConfig } from '../../supervisor/config/index.js';

interface Args { json?: boolean; config?: string }

const COLUMNS: Column[] = [
  { header: 'LAYER', priority: 3 },
  { header: 'STATUS', priority: 3 },
  { header: 'EVIDENCE', priority: 2 },
];

function statusStyle(status: LayerStatus, paint: Paint): Style {
  return status === 'works' ? paint.green : status === 'MISSING' ? paint.red : status === 'fallback' ? paint.yellow : paint.dim;
}

/** The machine line, the table, what to do about each missing layer, and a summary. */
export function renderDoctor(report: DoctorReport, paint: Paint): string {
  const m = report.machine;
  const tools = (['bwrap', 'setpriv', 'prlimit', 'nice'] as const).map((t) => `${t} ${m[t] ?? 'missing'}`).join(', ');
  const lines = [
    paint.dim(`machine: ${m.root ? 'root' : `uid ${m.uid}`}; node ${m.node} (${m.permissionFlag}); ${tools}; user namespaces ${m.namespaces ? 'yes' : `no (${m.namespacesWhy ?? 'unknown'})`}`),
    '',
  ];
  // No width: evidence is the point of this command, so it is never cut; a terminal wraps it.
  lines.push(...renderTable(COLUMNS, report.layers.map((l) => [l.layer, { text: l.status, paint: statusStyle(l.status, paint) }, l.evidence]), { paint }));
  const missing = report.layers.filter((l) => l.status === 'MISSING');
  const na = report.layers.filter((l) => l.status === 'not applicable');
  const fallback = report.layers.filter((l) => l.status === 'fallback');
  const fixes = [...missing, ...fallback].filter((l) => l.fix);
  if (fixes.length) {
    lines.push('');
    for (const l of fixes) lines.push(`${paint.bold(`fix ${l.layer}:`)} ${l.fix}`);
  }
  const applicable = report.layers.length - na.length;
  const skipped = na.length ? ` (not applicable here: ${na.map((l) => l.layer).join(', ')})` : '';
  lines.push('');
  const weaker = fallback.length ? ` (fallback, weaker: ${fallback.map((l) => l.layer).join(', ')})` : '';
  lines.push(report.ok
    ? paint.green(`ok: all ${applicable - fallback.length} applicable layers work${weaker}${skipped}`)
    : paint.red(`NOT ok: ${missing.length} of ${applicable} applicable layers missing: ${missing.map((l) => l.layer).join(', ')}${skipped}`));
  return lines.join('\n');
}

export const doctor: CommandModule<object, Args> = {
  command: 'doctor',
  describe: 'which isolation layers work on this machine, proven by probes',
  builder: (y) => y
    .option('json', { type: 'boolean', describe: 'machine-readable output' })
    .option('config', { alias: 'c', type: 'string', describe: 'with cluster: in this config, also check the NATS connection and the stream' }),
  handler: async (argv) => {
    const report = await runDoctor();
    const cluster = argv.config === undefined ? undefined : loadConfig(configPath(argv.config)).cluster;
    // Loaded only when a config has cluster:, as the supervisor does.
    const net = cluster && await (await import('../../cluster/doctor.js')).checkCluster(cluster);
    const paint = createPaint(colorEnabled(process.stdout));
    if (argv.json) printJson(net ? { ...report, cluster: net } : report);
    else {
      process.stdout.write(renderDoctor(report, paint) + '\n');
      if (net) process.stdout.write('\n' + renderTable(COLUMNS, net.rows.map(([what, status, evidence]) => [what, { text: status, paint: status === 'works' ? paint.green : status === 'MISSING' ? paint.red : paint.yellow }, evidence]), { paint }).join('\n') + '\n');
    }
    process.exitCode = report.ok && (net?.ok ?? true) ? EXIT.ok : EXIT.failure;
  },
};
