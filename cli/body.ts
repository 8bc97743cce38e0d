// The body of `outheis send`: JSON given inline, from a file (`@FILE`) or from stdin
// (`-`), since argv holds ~128 KiB at most (one argument; MAX_ARG_STRLEN). JSON's
// numbers have no bound, but the body travels as msgpack and JSON, where a number
// beyond ±1.8e308 (`1e999`) would silently become Infinity and then null: refused,
// wherever it sits in the body.
import { readFile } from 'node:fs/promises';
import { UsageError } from './errors.js';

/** Where the body came from, as an error names it. */
type Source = { what: string; text: string };

async function readSource(arg: string, stdin: NodeJS.ReadableStream): Promise<Source> {
  if (arg === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
    return { what: 'the message body on stdin', text: Buffer.concat(chunks).toString('utf8') };
  }
  if (arg.startsWith('@')) {
    const file = arg.slice(1);
    if (!file) throw new UsageError("the message body: '@' needs a file name after it (@body.json), or use '-' for stdin");
    try {
      return { what: `the message body in ${file}`, text: await readFile(file, 'utf8') };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'it is a directory' : e.code === 'EACCES' ? 'permission denied' : e.message;
      throw new UsageError(`cannot read the message body from ${file}: ${why}`);
    }
  }
  return { what: 'the message body', text: arg };
}

/** The path of the first number in `value` that JSON.parse made infinite (`.a[2].b`), or undefined. */
function nonFinite(value: unknown, path = ''): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : path || 'its top level';
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nonFinite(value[i], `${path}[${i}]`);
      if (found) return found;
    }
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const found = nonFinite(v, /^[A-Za-z_$][\w$]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`);
      if (found) return found;
    }
  }
  return undefined;
}

/** Options of `send` that take a value (the next word, unless written `--opt=value`). */
const VALUED = new Set(['--qos', '--timeout', '--state-dir', '--config', '-c']);
/** Options of `send` that take none. */
const FLAGS = new Set(['--wait', '--json', '--help', '--version', '--no-wait', '--no-json']);

/**
 * yargs reads every word that starts with "-" as options, also in a positional's
 * place, so `send a k -` and `send a k -5e999` would lose their body. Such a body
 * word is shielded with a leading space, which JSON ignores and readBody trims; a
 * `--` before it is dropped. Only the word in the body's place (the third after
 * `send`) is touched, and only when it is not one of send's options.
 */
export function shieldBody(words: string[]): string[] {
  const out = [...words];
  let positionals = 0;
  let sending = false;
  for (let i = 0; i < out.length; i++) {
    const w = out[i]!;
    const isBodySlot = sending && positionals === 3;
    if (isBodySlot && w === '--' && i + 1 < out.length) {
      out.splice(i, 2, ` ${out[i + 1]!}`);
      return out;
    }
    if (w.startsWith('-') && w !== '-') {
      const name = w.split('=')[0]!;
      if (VALUED.has(name)) {
        if (!w.includes('=')) i++;
        continue;
      }
      if (FLAGS.has(name) || !isBodySlot) continue;
    }
    if (isBodySlot) {
      if (w.startsWith('-')) out[i] = ` ${w}`;
      return out;
    }
    if (!sending && w !== 'send') return out; // another verb
    sending = true;
    positionals++;
  }
  return out;
}

/** The body as a value: `arg` is JSON, `@FILE` or `-`; undefined when there is none. Throws UsageError naming the source. */
export async function readBody(arg: string | undefined, stdin: NodeJS.ReadableStream = process.stdin): Promise<unknown> {
  if (arg === undefined) return undefined;
  const { what, text } = await readSource(arg.startsWith(' ') ? arg.trimStart() : arg, stdin);
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (err) {
    const hint = what === 'the message body' ? " (quote it for the shell: '{\"a\":1}')" : '';
    throw new UsageError(`${what} must be JSON${hint}; got ${JSON.stringify(text.slice(0, 80))}${text.length > 80 ? '…' : ''}: ${(err as Error).message}`);
  }
  const at = nonFinite(value);
  if (at !== undefined) {
    throw new UsageError(`${what}: the number at ${at} is beyond ±1.8e308, what a double holds; it would arrive as null. Send it as a string`);
  }
  return value;
}
