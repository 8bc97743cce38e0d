// A note the relay saves: always a new file in its inbox folder, named by the time
// and the note's first words. The relay picks the path, never its caller or the
// model, so "save a note" cannot overwrite or create anything outside the inbox.
export interface SavedNote { path: string; text: string }

export function inboxNote(inbox: string, body: string, now: Date, title?: string): SavedNote {
  const text = body.replace(/\r\n/g, '\n').trim();
  const head = (title?.trim() || text.split('\n')[0] || 'Note').replace(/^#+\s*/, '').replace(/\s+/g, ' ').slice(0, 80).trim() || 'Note';
  const slug = head.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40).replace(/-+$/, '') || 'note';
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').replace(/\.(\d{3})Z$/, '$1');
  const path = `${inbox.replace(/\/+$/, '')}/${stamp}-${slug}.md`;
  const frontmatter = ['---', `created: ${now.toISOString()}`, 'source: relay', '---'].join('\n');
  return { path, text: `${frontmatter}\n# ${head}\n\n${text}\n` };
}
