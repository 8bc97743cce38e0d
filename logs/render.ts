// One log record (a JSON line) as a person reads it, for `outheis logs` and for a
// supervisor whose console is a terminal:
//   12:00:01.234 INFO  notes│out  hello world
//   12:00:01.234 WARN  exited {"agent":"notes","code":3}
// pino-pretty does the parsing, time, level colours and the one-line rest of the
// record; we only put an agent's name and stream before its output line.
import { createRequire } from 'node:module';
import type { PrettyOptions } from 'pino-pretty';

// Loaded when a renderer is made, not with this module: a supervisor whose console is not
// a terminal (a service, a pipe) never renders, and pino-pretty costs it about 4 MB.
const loadPretty = (): typeof import('pino-pretty') => createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');

export interface RenderOptions {
  color: boolean;
  /** Prefix agent output with the agent's name (off when showing one agent's log); default true. */
  showAgent?: boolean;
}

const STREAM: Record<string, string> = { stdout: 'out', stderr: 'err' };
// Levels are padded to the longest standard label, so messages start in one column.
const LABEL_WIDTH = 5;
// The set pino-pretty strips from messages. An agent's output may carry terminal
// controls (its own colours, or worse); none of them reach the operator's terminal,
// and color: false must mean no escape codes at all.
const UNSAFE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g;
const SGR = /\u001b\[[0-9;]*m/g;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isAgentOutput = (rec: Record<string, unknown>): boolean => typeof rec.agent === 'string' && typeof rec.stream === 'string' && rec.stream in STREAM;

export function createRenderer(opts: RenderOptions): (line: string) => string {
  const { prettyFactory } = loadPretty();
  const showAgent = opts.showAgent ?? true;
  // What the time and level prettifiers produced for the record being rendered; see dropColon.
  let time: string | undefined;
  let level: { label: string; shown: string } | undefined;
  const base: PrettyOptions = {
    colorize: opts.color,
    singleLine: true,
    // One record, one line, errors included: pino-pretty would print an err's stack
    // over several lines, which breaks `logs -n` counting and grep.
    errorLikeObjectKeys: [],
    translateTime: 'SYS:HH:MM:ss.l',
    customPrettifiers: {
      time: (t) => (time = String(t).replace(UNSAFE, '')), // without pino-pretty's [brackets]
      // extras.label is not filled in by pino-pretty 13.2; the colourless label is the coloured one without SGR codes
      level: (_value, _key, _log, { labelColorized }) => {
        level = { label: labelColorized.replace(SGR, ''), shown: labelColorized };
        return labelColorized;
      },
    },
  };
  const agentOutput = prettyFactory({
    ...base,
    // agent and stream are in the prefix; repeating them as keys would be noise
    ignore: 'pid,hostname,agent,stream,truncated',
    messageFormat: (log, key, _levelLabel, { colors }) => {
      const stream = STREAM[log.stream as string]!;
      const who = showAgent ? `${String(log.agent).replace(UNSAFE, '')}│${stream}` : stream;
      const msg = String(log[key] ?? '').replace(UNSAFE, '');
      const cut = log.truncated === true ? ' …[truncated]' : '';
      return `${colors.magenta(who)}  ${msg}${colors.dim(cut)}`;
    },
  });
  const event = prettyFactory({ ...base, ignore: 'hostname' });

  return (line) => {
    let rec: unknown;
    try {
      // An own "__proto__" key would become the prototype of pino-pretty's copy of the record.
      rec = JSON.parse(line, (key, value: unknown) => (key === '__proto__' ? undefined : value));
    } catch {
      rec = undefined;
    }
    if (!isRecord(rec)) return line.replace(UNSAFE, ''); // plain text or a torn record: shown, never thrown
    time = level = undefined;
    const out = dropColon((isAgentOutput(rec) ? agentOutput : event)(rec).replace(/\n$/, ''), time, level).replace(/^ +/, '');
    return out ? out : line.replace(UNSAFE, ''); // a record with nothing to show ({}) is still shown
  };
}

// pino-pretty always ends its header with "LEVEL:" (or "LEVEL (pid):" when the record
// has a pid, which in our logs is an agent's); a padded column reads better on a
// console. Rewritten only when the header is exactly what our prettifiers produced.
function dropColon(out: string, time: string | undefined, level: { label: string; shown: string } | undefined): string {
  if (!level) return out;
  const head = time === undefined ? level.shown : `${time} ${level.shown}`;
  if (!out.startsWith(head)) return out;
  const tail = /^(?: \((\d+)\))?:/.exec(out.slice(head.length));
  if (!tail) return out;
  const rest = out.slice(head.length + tail[0].length).replace(/^ /, '');
  const pid = tail[1] === undefined ? '' : `[${tail[1]}] `;
  if (!rest && !pid) return head;
  return `${head}${' '.repeat(Math.max(0, LABEL_WIDTH - level.label.length) + 1)}${pid}${rest}`.trimEnd();
}
