// What `add` writes: one list line with the item's tags, appended to the inbox note.
// The line is the same syntax a person would type, so an added item is found by the
// same scan as every other, and can be edited or moved in an editor like any line.
import type { AddReq } from '../messages.js';

export const INBOX_HEAD = '# Agenda inbox\n\nItems added through the agenda agent. Move or edit them freely: any line with a `#date-` tag is an item.\n';

export function itemLine(req: AddReq): string {
  // One line, and no date/time tags of the caller's own: the item's date is `date`.
  const text = req.text.replace(/[\r\n]+/g, ' ').replace(/(?<![\w#])#(date|time)-\S*/g, ' ').replace(/\s+/g, ' ').trim() || '(no text)';
  return `- ${text} #date-${req.date}${req.time ? ` #time-${req.time}` : ''}`;
}

/** `existing` (undefined: the note does not exist yet) with `line` appended on a line of its own. */
export function appendLine(existing: string | undefined, line: string): string {
  const base = existing ?? INBOX_HEAD;
  const sep = base === '' || base.endsWith('\n\n') ? '' : base.endsWith('\n') ? (existing === undefined ? '\n' : '') : '\n';
  return `${base}${sep}${line}\n`;
}
