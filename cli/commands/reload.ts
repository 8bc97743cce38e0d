import type { CommandModule } from 'yargs';
import { ask } from '../client.js';
import { EXIT } from '../errors.js';
import { formatConfigIssues } from '../../supervisor/config/index.js';
import type { ReloadResult } from '../../supervisor/control/protocol.js';
import { indent } from './check.js';
import { printJson, withTarget, type TargetArgs } from './target.js';

const list = (names: readonly string[]): string => names.join(', ');

/** What changed, one line per kind of change; `unchanged` when nothing did. */
export function describeReload(r: ReloadResult): string[] {
  const lines: string[] = [];
  if (r.added.length) lines.push(`added:      ${list(r.added)}`);
  if (r.removed.length) lines.push(`removed:    ${list(r.removed)}${r.deadLettered ? ` (${r.deadLettered} message${r.deadLettered === 1 ? '' : 's'} owed to them dead-lettered: outheis redrive sends them again)` : ''}`);
  for (const c of r.changed) lines.push(`restarted:  ${c.agent} (changed: ${c.keys.join(', ')})`);
  const byGroup = r.restarted.filter((n) => !r.changed.some((c) => c.agent === n));
  if (byGroup.length) lines.push(`restarted:  ${list(byGroup)} (group rebuilt: ${list(r.rebuilt)})`);
  if (r.inPlace.length) lines.push(`in place:   ${list(r.inPlace)}`);
  for (const s of r.notApplied) lines.push(`NOT APPLIED: ${s.key} stays ${JSON.stringify(s.running)} until the supervisor restarts (the file says ${JSON.stringify(s.file)})`);
  if (r.notReady.length) lines.push(`NOT READY:  ${list(r.notReady)} (see 'outheis status' and 'outheis logs')`);
  return lines.length ? lines : ['unchanged: the file says what is running'];
}

export const reload: CommandModule<object, TargetArgs> = {
  command: 'reload',
  describe: 're-read the config and apply only the difference (SIGHUP does the same); waits until added and restarted agents are ready. Exit 2: the config is refused, nothing changed',
  builder: (y) => withTarget(y) as never,
  handler: async (argv) => {
    // Stopping agents takes their shutdown budgets, and starting them their start timeouts: a long request.
    const r = await ask(argv, { op: 'reload' }, { long: true });
    if (!r.ok) process.exitCode = EXIT.usage;
    else if (r.notReady.length) process.exitCode = EXIT.failure;
    if (argv.json) return printJson(r);
    if (!r.ok) {
      console.error(`${r.file}: refused, the running config stays\n${indent(formatConfigIssues(r.issues))}`);
      return;
    }
    console.log(`reloaded ${r.file}`);
    for (const line of describeReload(r)) console.log(`  ${line}`);
  },
};
