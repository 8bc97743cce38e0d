// Colour for the CLI, decided once per stream. Escape codes only go where a
// person is looking at a terminal that can show them: a log file, a pipe into
// grep or a NO_COLOR user gets plain text.

/** Whether to colour what is written to `stream`. NO_COLOR (https://no-color.org) beats everything, FORCE_COLOR beats the terminal checks. */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  // Node's own convention: FORCE_COLOR set (even empty) forces colour, except "0" and "false".
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '0' && force !== 'false') return true;
  if (stream.isTTY !== true) return false;
  return env.TERM !== 'dumb';
}

export type Style = (s: string) => string;

export interface Paint {
  /** False when every style is the identity; renderers may rely on there being no escape codes then. */
  readonly enabled: boolean;
  red: Style;
  green: Style;
  yellow: Style;
  cyan: Style;
  dim: Style;
  bold: Style;
  inverse: Style;
}

// Each style closes with its own reset (39 colour, 22 intensity, 27 inverse), not
// the full reset 0, so a coloured cell inside a bold line keeps the bold.
const sgr = (open: number, close: number): Style => (s) => (s === '' ? s : `\x1b[${open}m${s}\x1b[${close}m`);
const identity: Style = (s) => s;

export function createPaint(enabled: boolean): Paint {
  if (!enabled) {
    return { enabled, red: identity, green: identity, yellow: identity, cyan: identity, dim: identity, bold: identity, inverse: identity };
  }
  return {
    enabled,
    red: sgr(31, 39),
    green: sgr(32, 39),
    yellow: sgr(33, 39),
    cyan: sgr(36, 39),
    dim: sgr(2, 22),
    bold: sgr(1, 22),
    inverse: sgr(7, 27),
  };
}

// CSI sequences (colours, cursor moves); enough for the text this CLI produces and for agent names.
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]/g;

export function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}
