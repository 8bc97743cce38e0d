// A uid and gid of its own for every agent when the supervisor is root. `user:
// auto` allocates them deterministically from systemd's DynamicUser range, so an
// agent keeps its uid (and its files stay its own) across restarts and reboots;
// `user: NAME` uses an existing account.
import { readFileSync } from 'node:fs';

/** systemd's range for dynamic users (DynamicUser=): nothing in /etc/passwd should live here. */
export const DYNAMIC_MIN = 61184;
export const DYNAMIC_MAX = 65519;

export interface Account { uid: number; gid: number; name: string }

interface PasswdEntry { name: string; uid: number; gid: number }

export function readPasswd(file = '/etc/passwd'): PasswdEntry[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
    const [name, , uid, gid] = l.split(':');
    return { name: name!, uid: Number(uid), gid: Number(gid) };
  });
}

function readGroupIds(file = '/etc/group'): Set<number> {
  try {
    return new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => Number(l.split(':')[2])));
  } catch {
    return new Set();
  }
}

/** FNV-1a: a stable hash, so the same agent name lands on the same uid every time. */
function hash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export class UserError extends Error {}

/** Accounts for agents, by name; `user` undefined means auto. */
export function allocateAccounts(agents: { name: string; user?: string | undefined }[], passwd = readPasswd(), groups = readGroupIds()): Map<string, Account> {
  const taken = new Set<number>([...passwd.map((p) => p.uid), ...passwd.map((p) => p.gid), ...groups]);
  const out = new Map<string, Account>();
  const size = DYNAMIC_MAX - DYNAMIC_MIN + 1;
  // Sorted, so that a collision resolves the same way whatever the config's order.
  for (const a of [...agents].sort((x, y) => (x.name < y.name ? -1 : 1))) {
    if (a.user && a.user !== 'auto') {
      const entry = passwd.find((p) => p.name === a.user);
      if (!entry) throw new UserError(`agents.${a.name}.user: no user named "${a.user}" in /etc/passwd`);
      if (entry.uid === 0) throw new UserError(`agents.${a.name}.user: "${a.user}" is root; an agent never runs as root`);
      out.set(a.name, { uid: entry.uid, gid: entry.gid, name: entry.name });
      continue;
    }
    let id = DYNAMIC_MIN + (hash(a.name) % size);
    for (let n = 0; taken.has(id); n++) {
      if (n >= size) throw new UserError('no free uid left in the dynamic range 61184-65519');
      id = id === DYNAMIC_MAX ? DYNAMIC_MIN : id + 1;
    }
    taken.add(id);
    out.set(a.name, { uid: id, gid: id, name: `outheis-${a.name}` });
  }
  return out;
}
