// One verdict per layer: what the plan says the probe should observe (expect.ts),
// against what it reported from inside and what /proc showed from outside.
// "works" needs the refusal itself, not the absence of a tool.
import { LAYERS, type Layer } from '../chain.js';
import type { Machine } from '../machine.js';
import { FIXES, namespacesFix, type SandboxPlan } from '../sandbox.js';
import { mayRead, mayWrite, type Expected } from './expect.js';
import { parseLimits } from './proc.js';
import type { Attempt, ProbeRun } from './run.js';
import { formatSize } from '../../protocol/units.js';

/** Set in the doctor's environment while the probe starts; the probe must not see it. */
export const SECRET_VAR = 'OUTHEIS_DOCTOR_SECRET';

/** fallback: the layer cannot be had here, and something weaker stands in (cgroups: nice and sampling). */
export type LayerStatus = 'works' | 'MISSING' | 'fallback' | 'not applicable';

export interface LayerReport {
  layer: Layer;
  status: LayerStatus;
  /** What the probe (or the doctor, from outside) saw, in a few words. */
  evidence: string;
  /** For a missing layer: what to install or enable. */
  fix?: string;
}

export interface Evidence {
  machine: Machine;
  plan: SandboxPlan;
  expected: Expected;
  full: ProbeRun;
  bare: ProbeRun | undefined;
  port: number;
  reachable: boolean;
  closedFds: number[];
  /** Where the probe tried to write: in its rw data directory, and beside its code. */
  dataFile: string;
  outsideFile: string;
}

const MiB = 2 ** 20;
const mib = (n: number): string => formatSize(n, { unit: 'MiB' });
const refused = (a: Attempt | undefined): boolean => a !== undefined && !a.ok;
const said = (a: Attempt | undefined): string => (a === undefined ? 'not tried' : a.ok ? 'ok' : a.code ?? 'refused');

const works = (layer: Layer, evidence: string): LayerReport => ({ layer, status: 'works', evidence });
const missing = (layer: Layer, evidence: string, fix?: string): LayerReport => ({ layer, status: 'MISSING', evidence, ...(fix ? { fix } : {}) });
const verdict = (layer: Layer, ok: boolean, evidence: string, fix?: string): LayerReport => (ok ? works(layer, evidence) : missing(layer, evidence, fix));

/** The planned layer's reason for being left out. */
const whyMissing = (plan: SandboxPlan, layer: Layer): string | undefined => plan.gaps.find((g) => g.layer === layer)?.why;
const unreadable = (e: Evidence, what: string) => `${what} unreadable from outside (${e.full.outside?.errors.join('; ') ?? 'node not found'})`;

export function uidLayer(e: Evidence): LayerReport {
  const L = LAYERS.uid;
  if (!e.machine.root) return { layer: L, status: 'not applicable', evidence: `not root: agents run as the operator (uid ${process.getuid?.()}); there is no uid to drop to` };
  if (!e.expected.ids) return missing(L, `not planned: ${whyMissing(e.plan, L) ?? 'no account'}`, FIXES.setpriv);
  const r = e.full.results;
  if (!r) return missing(L, e.full.error ?? 'no report');
  const { uid, gid } = e.expected.ids;
  // The kernel's account of the process: from outside, or from inside where the permission model is off.
  const sources: [Record<string, string> | undefined, string][] = [
    [e.full.outside?.status, `/proc/${e.full.outside?.pid}/status`],
    [e.bare?.outside?.status, `/proc/${e.bare?.outside?.pid}/status`],
    [e.bare?.results?.procStatus.status, 'the probe\'s /proc/self/status'],
  ];
  const [st, where] = sources.find(([s]) => s !== undefined) ?? [undefined, ''];
  // Node's getgroups() always includes the effective gid; anything beyond it is a supplementary group.
  const extraGroups = r.uid.groups.filter((g) => g !== r.uid.gid);
  const inside = r.uid.uid === uid && r.uid.gid === gid && extraGroups.length === 0;
  const ids = (line: string | undefined) => (line ?? '').split(/\s+/).filter(Boolean).map(Number);
  const zero = (caps: string | undefined) => caps !== undefined && /^0+$/.test(caps);
  const kernel = st !== undefined && ids(st.Uid).length === 4 && ids(st.Uid).every((n) => n === uid) && ids(st.Gid).every((n) => n === gid)
    && (st.Groups ?? '') === '' && st.NoNewPrivs === '1' && zero(st.CapEff) && zero(st.CapPrm);
  const seen = `uid ${r.uid.uid} gid ${r.uid.gid}, ${extraGroups.length ? `supplementary groups ${extraGroups.join(',')}` : 'no supplementary groups'}`;
  const caps = st ? `${where}: Uid ${ids(st.Uid).join(' ')}, Groups [${st.Groups ?? ''}], NoNewPrivs ${st.NoNewPrivs}, CapEff ${zero(st.CapEff) ? '0' : st.CapEff}, CapBnd ${zero(st.CapBnd) ? '0' : st.CapBnd}` : 'status unreadable';
  return verdict(L, inside && kernel, `${seen} (account ${uid}); ${caps}`, FIXES.setpriv);
}

export function namespacesLayer(e: Evidence): LayerReport {
  const L = LAYERS.namespaces;
  if (!e.plan.layers.includes(L)) {
    const root = e.full.outside?.root ?? e.bare?.results?.root.entries;
    return missing(L, `not planned: ${whyMissing(e.plan, L) ?? 'bubblewrap is not available'}${root ? `; the probe's / holds the host's (${root.length} entries${root.includes('etc') ? ', etc included' : ''})` : ''}`, namespacesFix(e.machine));
  }
  const full = e.full.results;
  const bare = e.bare?.results;
  if (!full) return missing(L, e.full.error ?? 'no report');
  // Without the permission model the namespace is what refuses: /etc is simply not there.
  const files = bare ? [bare.shadow, bare.passwd] : [full.shadow, full.passwd];
  const filesRefused = files.every(refused);
  const root = bare?.root.entries ?? e.full.outside?.root;
  const strays = root ? root.filter((n) => !e.expected.root.has(n)) : ['(unreadable)'];
  const own = e.full.outside?.nsOwn;
  const nsOk = own === undefined ? full.uid.pid < 10 : e.expected.ownNamespaces.every((n) => own.includes(n));
  const parts = [
    `/etc/shadow ${said(files[0])}, /etc/passwd ${said(files[1])}${bare ? '' : ' (with the permission model on)'}`,
    root ? `/ holds ${strays.length ? `unexpected ${strays.join(', ')} among ` : 'only '}${root.join(' ')}` : '/ unreadable',
    `pid ${full.uid.pid}`,
    own === undefined ? unreadable(e, 'namespaces') : `own ${own.filter((n) => n !== 'net').join(' ')} namespaces`,
  ];
  return verdict(L, filesRefused && strays.length === 0 && nsOk && full.uid.pid < 10, parts.join('; '), namespacesFix(e.machine));
}

export function netnsLayer(e: Evidence): LayerReport {
  const L = LAYERS.netns;
  const target = `the doctor's 127.0.0.1:${e.port}`;
  if (!e.expected.ownNet) {
    const c = e.full.results?.connect;
    return missing(L, `not planned: ${whyMissing(e.plan, LAYERS.namespaces) ?? 'bubblewrap is not available'}${c ? `; connect to ${target}: ${said(c)}` : ''}`, namespacesFix(e.machine));
  }
  const full = e.full.results;
  if (!full) return missing(L, e.full.error ?? 'no report');
  const bare = e.bare?.results;
  const ownNet = e.full.outside ? e.full.outside.nsOwn.includes('net') : undefined;
  const ok = e.reachable && refused(full.connect) && (bare === undefined || refused(bare.connect)) && ownNet !== false;
  const parts = [
    `connect to ${target}: ${said(full.connect)}${bare ? ` (${said(bare.connect)} without the permission model)` : ''}`,
    e.reachable ? 'reachable from outside' : 'NOT reachable even from outside, so the refusal proves nothing',
    ownNet === undefined ? 'net namespace unreadable from outside' : ownNet ? 'own net namespace' : 'the host\'s net namespace',
  ];
  return verdict(L, ok, parts.join('; '), namespacesFix(e.machine));
}

export function permissionLayer(e: Evidence): LayerReport {
  const L = LAYERS.permission;
  const p = e.expected.permission;
  if (!p) return missing(L, 'not planned: node runs without its permission model', FIXES.node);
  const r = e.full.results;
  if (!r) return missing(L, e.full.error ?? 'no report');
  const denied = (a: Attempt) => !a.ok && a.code === 'ERR_ACCESS_DENIED';
  // Each attempt with whether the plan grants it: what is not granted must be refused by Node itself.
  const tries: [string, Attempt, boolean][] = [
    ['spawn', r.spawn, p.grants.includes('child-process')],
    ['Worker', r.worker, p.grants.includes('worker')],
    ['write outside data', r.writeOutside, mayWrite(e.expected, e.outsideFile)],
    ['read /etc/passwd', r.passwd, mayRead(e.expected, '/etc/passwd')],
  ];
  const asPlanned = ([, a, granted]: [string, Attempt, boolean]) => (granted ? a.ok : denied(a));
  const grantOk = mayWrite(e.expected, e.dataFile) && r.writeData.ok && e.full.dataFile !== undefined;
  const ok = tries.every(asPlanned) && grantOk && !e.full.planted;
  const refusals = tries.filter(([, a]) => denied(a)).map(([w]) => w);
  const others = tries.filter(([, a]) => !denied(a)).map(([w, a]) => `${w}: ${said(a)}`);
  const grant = `write in data: ${said(r.writeData)}${e.full.dataFile && e.machine.root ? ` (owned by uid ${e.full.dataFile.uid})` : ''}`;
  const parts = [refusals.length ? `${refusals.join(', ')}: ERR_ACCESS_DENIED` : 'nothing refused', ...others, grant];
  if (e.full.planted) parts.push('the write outside data reached the host');
  return verdict(L, ok, parts.join('; '), FIXES.node);
}

export function rlimitsLayer(e: Evidence): LayerReport {
  const L = LAYERS.rlimits;
  if (!e.plan.layers.includes(L)) return missing(L, `not planned: ${whyMissing(e.plan, L) ?? 'prlimit is not available'}`, FIXES.prlimit);
  const r = e.full.results;
  if (!r) return missing(L, e.full.error ?? 'no report');
  const want = e.expected.limits;
  let limits = e.full.outside?.limits;
  let where = e.full.outside?.limits ? `/proc/${e.full.outside.pid}/limits` : '';
  if (!limits && e.bare?.results?.limits.ok) {
    limits = parseLimits((e.bare.results.limits.detail ?? '').replaceAll('; ', '\n'));
    where = 'the probe\'s /proc/self/limits';
  }
  const files = limits?.['open files'];
  const procs = limits?.['processes'];
  const nofile = e.expected.nofile;
  const emfile = nofile === undefined || (r.nofile.code === 'EMFILE' && (r.nofile.highest ?? Infinity) < nofile);
  const ok = (want['open files'] === undefined || files === want['open files']) && (want.processes === undefined || procs === want.processes) && emfile;
  const parts = [
    limits ? `Max open files ${files}, Max processes ${procs} (${where})` : `limits unreadable (${e.full.outside?.errors.join('; ') ?? 'node not found'})`,
    r.nofile.ok ? `opened ${r.nofile.opened} files without a refusal` : `open() refused ${r.nofile.code} after fd ${r.nofile.highest ?? '-'}`,
  ];
  return verdict(L, ok, parts.join('; '), FIXES.prlimit);
}

export function heapLayer(e: Evidence): LayerReport {
  const L = LAYERS.heap;
  const heap = e.expected.heap;
  if (!e.plan.layers.includes(L) || !heap) return missing(L, 'not planned: no heap cap on the command line');
  const r = e.full.results;
  if (!r) return missing(L, e.full.error ?? 'no report');
  const limit = r.heap.heapSizeLimit;
  const flag = `--max-old-space-size=${heap.oldSpaceMiB}`;
  if (limit <= heap.memory) return works(L, `heap_size_limit ${mib(limit)} <= limits.memory ${mib(heap.memory)} (${flag})`);
  return missing(L,
    `heap_size_limit ${mib(limit)} > limits.memory ${mib(heap.memory)}: ${flag} caps only V8's old generation; the young generation adds ${mib(limit - heap.oldSpaceMiB * MiB)}`,
    'nothing to install: the cap policies/sandbox.ts computes leaves out the young generation');
}

export function envLayer(e: Evidence): LayerReport {
  const L = LAYERS.env;
  const r = e.full.results;
  if (!r) return missing(L, e.full.error ?? 'no report');
  // bubblewrap sets PWD itself when it changes directory (--chdir): not something passed through.
  const bwrapPwd = e.expected.chdir !== undefined && r.env.keys.includes('PWD') && r.env.pwdIsCwd;
  const extra = r.env.keys.filter((k) => !e.expected.env.includes(k) && !(k === 'PWD' && bwrapPwd));
  const ok = !r.env.secret && extra.length === 0;
  const parts = [
    r.env.secret ? `${SECRET_VAR} reached the probe` : `${SECRET_VAR} (set in the doctor) not passed`,
    extra.length ? `unexpected: ${extra.join(', ')}` : `the probe sees only ${e.expected.env.filter((k) => r.env.keys.includes(k)).join(', ') || 'nothing'}${bwrapPwd ? ' and PWD (bubblewrap\'s --chdir)' : ''}`,
  ];
  return verdict(L, ok, parts.join('; '));
}

export function fdsLayer(e: Evidence): LayerReport {
  const L = LAYERS.fds;
  const r = e.full.results;
  if (!r) return missing(L, e.full.error ?? 'no report');
  // Node's own: its event loop (anon inodes), its signal and async pipes, /dev/null. An
  // inherited descriptor would be a file, a directory or a socket, or one of the doctor's.
  const suspicious = r.fds.open.filter((f) => ['file', 'dir', 'socket', 'blk', 'link'].includes(f.type));
  const shared = e.full.outside?.shared;
  const ok = suspicious.length === 0 && (shared === undefined || shared.length === 0);
  const kinds = new Map<string, number>();
  for (const f of r.fds.open) kinds.set(f.type, (kinds.get(f.type) ?? 0) + 1);
  const fds = r.fds.open.map((f) => f.fd);
  const parts = [
    fds.length ? `fds ${Math.min(...fds)}-${Math.max(...fds)} are Node's own (${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')})` : 'no fd beyond stdio',
    ...(suspicious.length ? [`unexpected: ${suspicious.map((f) => `fd ${f.fd} (${f.type})`).join(', ')}`] : []),
    shared === undefined ? unreadable(e, 'fd table')
      : shared.length ? `the doctor's reached it: ${shared.join(', ')}` : 'none of the doctor\'s (its listener included) reached it',
  ];
  if (e.closedFds.length) parts.push(`closed inherited fd ${e.closedFds.join(', ')} first, as the supervisor does`);
  return verdict(L, ok, parts.join('; '));
}

/** Every layer, in the order the doctor reports them. */
export const verdicts = (e: Evidence): LayerReport[] =>
  [uidLayer, namespacesLayer, netnsLayer, permissionLayer, rlimitsLayer, heapLayer, envLayer, fdsLayer].map((v) => v(e));
