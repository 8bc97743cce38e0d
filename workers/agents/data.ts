// data: the vault's owner and its only writer (DESIGN, "The outheis agents").
//   outheis:data --vault PATH [--rescan 60s]
// A relative --vault is taken from the directory the agent starts in: the config's
// when the vault lies inside it (the sandbox's rule); elsewhere, give it whole.
// Owns the vault (its one rw path), answers search/read/write/list, and keeps a
// full-text index current while people edit the notes in their own editors.
// Start: resolve the vault's real path → index it all → watch it → ready.
import { parseArgs } from 'node:util';
import { agent } from '../sdk.js';
import { listReq, parseBody, readReq, searchReq, writeReq } from './messages.js';
import { vaultRoot } from './data/paths.js';
import { Vault } from './data/vault.js';
import { VaultWatcher } from './data/watch.js';

function options(): { vault: string; rescanMs: number } {
  const { values } = parseArgs({ options: { vault: { type: 'string' }, rescan: { type: 'string', default: '60s' } }, strict: true });
  if (!values.vault) throw new Error('--vault PATH is required (the directory of Markdown notes this agent owns)');
  const m = /^(\d+)(ms|s|m)?$/.exec(values.rescan!);
  if (!m) throw new Error(`--rescan expects a duration such as 60s, 500ms or 0 (off), got ${JSON.stringify(values.rescan)}`);
  return { vault: values.vault, rescanMs: Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 }[m[2] ?? 'ms'] ?? 1) };
}

let opts: ReturnType<typeof options>;
let root: string;
try {
  opts = options();
  root = vaultRoot(opts.vault);
} catch (err) {
  // The operator's mistake in args: one clear line in the agent's log, not a stack.
  process.stderr.write(`data: ${(err as Error).message}\n`);
  process.exit(64);
}
const vault = new Vault(root);
vault.refresh();
const watcher = new VaultWatcher(vault.root, (rel) => vault.refresh(rel), {
  rescanMs: opts.rescanMs,
  onError: (err) => process.stderr.write(`data: watching ${vault.root}: ${err.message}; rescanning\n`),
}).start();

agent
  .handle('search', (body) => {
    const { q, limit } = parseBody(searchReq, body, 'search');
    return vault.search(q, limit);
  })
  .handle('read', (body) => vault.read(parseBody(readReq, body, 'read').path))
  .handle('write', (body) => {
    const { path, text } = parseBody(writeReq, body, 'write');
    return vault.write(path, text);
  })
  .handle('list', (body) => vault.list(parseBody(listReq, body, 'list').under))
  .onShutdown(() => watcher.close());

process.stderr.write(`data: ${vault.index.size} notes indexed in ${vault.root}\n`);
await agent.ready();
