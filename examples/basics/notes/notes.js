// notes: the owner of the vault. Other agents never write it; they ask.
import { appendFile, readFile } from 'node:fs/promises';
import { agent } from 'outheis/worker';

const vault = new URL('./vault/notes.log', import.meta.url);
// The tick count survives restarts (of notes, of the whole supervisor): it is checkpointed to the journal.
let count = agent.restored?.count ?? 0;

agent.handle('tick', async ({ at }) => {
  count++;
  if (count % 10 === 0) {
    await appendFile(vault, `${new Date(at).toISOString()} ${count} ticks seen\n`);
    await agent.checkpoint({ count });
  }
});

agent.handle('latest', async ({ n = 3 } = {}) => {
  const text = await readFile(vault, 'utf8').catch(() => '');
  return { ticks: count, notes: text.trim().split('\n').filter(Boolean).slice(-n) };
});

agent.onShutdown(() => console.log(`notes: stopping after ${count} ticks`));
await agent.ready();
console.log(`notes: ready, ${count} ticks so far`);
