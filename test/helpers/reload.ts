// What the reload tests do to a running daemon: edit its config file, reload it, read its journal.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Daemon } from './daemon.js';
import type { ReloadResult, StatusResult } from '../../supervisor/control/protocol.js';
import { readRecords } from '../../logs/journal/recover.js';
import type { AnyRecord } from '../../logs/journal/schema.js';

export function rewrite(d: Daemon, lines: string[]): void {
  writeFileSync(d.file, lines.join('\n') + '\n');
}

/** `outheis reload --json`: its exit code and result. */
export function reload(d: Daemon): { code: number | null; result: ReloadResult; stderr: string } {
  const r = d.cli(['reload', '--json'], { timeout: 60_000 });
  return { code: r.code, result: JSON.parse(r.stdout) as ReloadResult, stderr: r.stderr };
}

/** Status rows by name. --state-dir: a config whose state_dir was edited points the CLI elsewhere until the supervisor restarts. */
export const agents = (d: Daemon) => new Map(d.cliJson<StatusResult>(['status', '--state-dir', d.stateDir]).agents.map((a) => [a.name, a]));

export async function journalOf(d: Daemon): Promise<AnyRecord[]> {
  const out: AnyRecord[] = [];
  for await (const r of readRecords(join(d.stateDir, 'journal'))) out.push(r as AnyRecord);
  return out;
}
