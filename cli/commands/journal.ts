// `outheis journal`: the journal's records, filtered, as lines or JSON. It reads
// the segment files directly, so it works whether or not a supervisor is running
// (like `outheis logs`), and with -f follows the journal as it is written.
import { accessSync, constants, statSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { deadLetterJson, formatDeadLetter, formatRecord, recordJson } from '../render/journal-record.js';
import { pendingRedrive, readDeadLetters } from '../../logs/journal/deadletters.js';
import { lastRecords, recordMatcher, scanRecords, type JournalPoint } from '../../logs/journal/query.js';
import type { JournalRecord } from '../../logs/journal/record.js';
import { RECORD_TYPE_NAMES } from '../../logs/journal/schema.js';
import { followRecords, type Damage } from '../../logs/journal/tail.js';
import { stateFiles } from '../../supervisor/control/state-dir.js';
import { ClientError, stateDirFor } from '../client.js';
import { UsageError } from '../errors.js';
import { parsePoint, POINT_FORMS } from '../point.js';
import { colorEnabled, createPaint } from '../render/color.js';
import { LineOutput, StdoutClosed } from '../render/line-output.js';
import { withTarget, type TargetArgs } from './target.js';

interface Args extends TargetArgs { agent?: string[]; kind?: string[]; since?: string; lines?: number; follow?: boolean }

const DEFAULT_LINES = 50;

/** `--agent a,b --agent c` → [a, b, c]. */
const listOf = (values: readonly (string | number)[] | undefined): string[] =>
  (values ?? []).flatMap((v) => String(v).split(',')).map((v) => v.trim()).filter(Boolean);

/** The journal directory of the target, or a ClientError saying why there is none. */
export function journalDirOf(argv: TargetArgs): string {
  const dir = stateFiles(stateDirFor(argv)).journal;
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
    accessSync(dir, constants.R_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // The state directory is 0700: only the supervisor's user reads it.
    if (code === 'EACCES' || code === 'EPERM') throw new ClientError('EACCES', `permission denied reading ${dir}: the journal holds message bodies and only the user that runs the supervisor may read it`);
  }
  if (!isDir) throw new ClientError('ENOENT', `no journal at ${dir}: no supervisor with a journal has run on this state directory yet`);
  return dir;
}

const reportDamage = (d: Damage): void => {
  process.stderr.write(`outheis: journal damaged in ${d.file} at byte ${d.offset} (${d.reason}); the rest of that segment is not shown. The next 'outheis start' moves it aside to journal/damaged/\n`);
};

// The journal's own options reach this subcommand too (yargs nests them): those that mean nothing here are refused.
interface DeadArgs extends TargetArgs { agent?: string[]; pending?: boolean; kind?: unknown; since?: unknown; lines?: unknown; follow?: unknown }

/** `outheis journal deadletters`: every dead letter, and what became of it (pending, redriven, handled). */
const deadletters: CommandModule<object, DeadArgs> = {
  command: 'deadletters',
  describe: 'the dead letters (messages given up on) and whether each was redriven; works on a stopped system',
  builder: (y) =>
    withTarget(y)
      .option('agent', { type: 'string', array: true, describe: 'dead letters to or from this agent (repeat or comma-separate for several)' })
      .option('pending', { type: 'boolean', describe: 'only those not redriven yet' })
      .example('$0 journal deadletters --pending', 'what `outheis redrive --all` would send again') as never,
  handler: async (argv) => {
    const stray = (['kind', 'since', 'lines', 'follow'] as const).filter((k) => argv[k] !== undefined);
    if (stray.length) throw new UsageError(`journal deadletters takes --agent, --pending and --json, not ${stray.map((k) => `--${k}`).join(', ')}`);
    const dir = journalDirOf(argv);
    const agents = new Set(listOf(argv.agent));
    const paint = createPaint(colorEnabled(process.stdout));
    const out = new LineOutput(process.stdout);
    try {
      for (const d of await readDeadLetters(dir)) {
        if (agents.size && !agents.has(d.to) && !agents.has(d.from)) continue;
        if (argv.pending && !pendingRedrive(d)) continue;
        out.line(argv.json ? deadLetterJson(d) : formatDeadLetter(d, paint));
      }
      out.flush();
    } catch (err) {
      if (err instanceof StdoutClosed) return;
      throw err;
    }
  },
};

export const journal: CommandModule<object, Args> = {
  command: 'journal',
  describe: 'journal records (messages, deliveries, acks, dead letters, checkpoints, lifecycle); works on a stopped system',
  builder: (y) =>
    withTarget(y)
      .command(deadletters)
      .option('agent', { alias: 'a', type: 'string', array: true, describe: "records about this agent: its own, messages from or to it, its group's escalations (repeat or comma-separate for several)" })
      .option('kind', {
        alias: 'k', type: 'string', array: true,
        describe: `a record type (${RECORD_TYPE_NAMES.join(', ')}) or a message kind (the kind of an accepted or dead-lettered message); a word that is both matches both (repeat or comma-separate for several)`,
      })
      .option('since', { alias: 's', type: 'string', describe: `start here: ${POINT_FORMS}. Without it: the last N records` })
      .option('lines', { alias: 'n', type: 'number', describe: `how many of the last matching records to print (default ${DEFAULT_LINES}; with --since, all of them unless given)` })
      .option('follow', { alias: 'f', type: 'boolean', describe: 'keep printing new records as they are written, until Ctrl-C' })
      .example('$0 journal --agent notes --kind exit,restart', "the notes agent's exits and restarts")
      .example('$0 journal --since 10m --kind greet', 'messages of kind greet in the last ten minutes')
      .example('$0 journal -f --json', 'every new record as a JSON line') as never,
  handler: async (argv) => {
    const n = argv.lines;
    if (n !== undefined && (!Number.isInteger(n) || n < 0)) throw new UsageError(`-n expects a whole number of records, 0 or more; got ${String(n)}`);
    const since: JournalPoint | undefined = argv.since === undefined ? undefined : parsePoint('--since', argv.since, Date.now());
    const dir = journalDirOf(argv);
    const match = recordMatcher({ agents: listOf(argv.agent), kinds: listOf(argv.kind) });
    const paint = createPaint(colorEnabled(process.stdout));
    const show = argv.json ? recordJson : (r: JournalRecord) => formatRecord(r, paint);
    const out = new LineOutput(process.stdout);
    const print = (r: JournalRecord): void => out.line(show(r));

    let fromSeq: number;
    try {
      if (!since) {
        const last = await lastRecords(dir, n ?? DEFAULT_LINES, { match, onDamage: reportDamage });
        last.records.forEach(print);
        fromSeq = last.lastSeq + 1;
      } else {
        // With -n, only the last n of the range: held back until the range is read.
        let held: JournalRecord[] = [];
        const onRecord = n === undefined ? print : (r: JournalRecord): void => {
          held.push(r);
          if (held.length >= 2 * n + 1024) held = held.slice(held.length - n);
        };
        const lastSeq = await scanRecords(dir, since, { match, onRecord, onDamage: reportDamage });
        if (n !== undefined) held.slice(Math.max(0, held.length - n)).forEach(print);
        fromSeq = Math.max(lastSeq + 1, 'seq' in since ? since.seq : 0);
      }
      out.flush();
      if (!argv.follow) return;

      const abort = new AbortController();
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => abort.abort());
      out.onClose(() => abort.abort()); // `outheis journal -f | head`
      const after = since && 'time' in since ? (r: JournalRecord) => r.at >= since.time : () => true;
      await followRecords(dir, {
        fromSeq,
        signal: abort.signal,
        onRecord: (r) => {
          if (after(r) && match(r)) print(r);
        },
        onDamage: reportDamage,
      });
      out.flush();
    } catch (err) {
      if (err instanceof StdoutClosed) return; // the reader went away (`| head`): not a failure
      throw err;
    }
  },
};
