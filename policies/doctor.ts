// `outheis doctor`: which enforcement layers work on this machine, proven rather
// than assumed. A probe (policies/probe.mjs, plain Node) is started through the
// very chain the supervisor would use for an agent (planSandbox), tries each
// forbidden thing from inside and reports what happened; meanwhile the doctor
// reads the probe's /proc/<pid>/{status,limits,ns,root,fd} from outside.
//
// The probe runs twice: once exactly as planned, and once with Node's permission
// flags left out. The permission model refuses first (ERR_ACCESS_DENIED), so only
// the second run shows the inner layers (namespaces, uid, network) refusing on
// their own. Reads as a list: machine → config → accounts and domains →
// listener → plan → probe runs → verdicts → clean-up.
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig, type AgentConfig, type Config } from '../supervisor/config/index.js';
import { prepareDomains } from './domains.js';
import { closeInheritedFds } from './fds.js';
import { probeMachine, type Machine } from './machine.js';
import { LAYERS, planSandbox, type SandboxPlan } from './sandbox.js';
import { agentEnv, findSandboxedNode } from './spawn.js';
import { allocateAccounts, type Account } from './users.js';

/** The probe script: not compiled, so resolved from dist/policies/ back to the package's policies/. */
export const PROBE_SCRIPT = fileURLToPath(new URL('../../policies/probe.mjs', import.meta.url));
/** Set in the doctor's environment while the probe starts; the probe must not see it. */
export const SECRET_VAR = 'OUTHEIS_DOCTOR_SECRET';
const PROBE_AGENT = 'doctor-probe';
const MiB = 2 ** 20;
const PROBE_LIMITS = { nofile: 64, nproc: 64, memory: 128 * MiB };
const DEFAULT_TIMEOUT_MS = 10_000;

export type Layer = (typeof LAYERS)[keyof typeof LAYERS];
export type LayerStatus = 'works' | 'MISSING' | 'not applicable';

export interface LayerReport {
  layer: Layer;
  status: LayerStatus;
  /** What the probe (or the doctor, from outside) saw, in a few words. */
  evidence: string;
  /** For a missing layer: what to install or enable. */
  fix?: string;
}

export interface DoctorMachine extends Machine {
  node: string;
  uid: number;
  gid: number;
}

export interface DoctorReport {
  machine: DoctorMachine;
  layers: LayerReport[];
  /** Every applicable layer works. */
  ok: boolean;
}

export interface DoctorOptions {
  /** Per probe run: the probe is killed when it has not reported by then. */
  timeoutMs?: number;
  machine?: Machine;
}

// ---- what the probe reports -------------------------------------------------------

interface Attempt { ok: boolean; code?: string; detail?: string }

interface ProbeResults {
  uid: Attempt & { uid: number; gid: number; groups: number[]; pid: number; hostname: string };
  procStatus: Attempt & { status?: Record<string, string> };
  shadow: Attempt;
  passwd: Attempt;
  root: Attempt & { entries?: string[] };
  connect: Attempt;
  spawn: Attempt;
  worker: Attempt;
  writeOutside: Attempt;
  writeData: Attempt;
  heap: Attempt & { heapSizeLimit: number };
  env: Attempt & { keys: string[]; secret: boolean; pwdIsCwd: boolean };
  fds: Attempt & { open: { fd: number; type: string }[] };
  limits: Attempt;
  nofile: Attempt & { opened: number; highest?: number };
}

/** What the doctor read about the sandboxed node from outside. */
interface Outside {
  pid: number;
  status?: Record<string, string>;
  limits?: Record<string, string>;
  /** Namespaces (mnt, pid, …) the probe has apart from the doctor's, and those it shares. */
  nsOwn: string[];
  nsShared: string[];
  root?: string[];
  fds?: { fd: number; target: string }[];
  /** The probe's fds above stdio that are open files, pipes or sockets of the doctor's. */
  shared: string[];
  errors: string[];
}

interface ProbeRun {
  results?: ProbeResults;
  outside?: Outside;
  /** Why there are no results. */
  error?: string;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  /** The host path written outside `data`, left there by the probe (it must not be). */
  planted: boolean;
  /** The file the probe wrote in `data`, as the host sees it. */
  dataFile?: { uid: number; gid: number };
}

// ---- small helpers ------------------------------------------------------------------

const codeOf = (err: unknown): string => (err as NodeJS.ErrnoException)?.code ?? (err instanceof Error ? err.message : String(err));
const mib = (n: number): string => `${Math.round(n / MiB)} MiB`;
const refused = (a: Attempt | undefined): boolean => a !== undefined && !a.ok;
const argv0 = (argv: string[]) => argv[0] ?? '(nothing)';
const said = (a: Attempt | undefined): string => (a === undefined ? 'not tried' : a.ok ? 'ok' : a.code ?? 'refused');

/** Resolves with the promise's value, or undefined after `ms`; never leaves a timer behind. */
function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    p.then((v) => {
      clearTimeout(timer);
      resolve(v);
    }, () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}

function listen(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

/** The doctor's own connection to its listener: a refusal inside proves nothing if this fails too. */
function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 2000);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function parseStatus(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s*(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!.trim();
  }
  return out;
}

/** /proc/<pid>/limits: "Max open files  64  64  files" → { 'open files': '64/64' }. */
function parseLimits(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^Max ([a-z ]+?)\s{2,}(\S+)\s+(\S+)/.exec(line);
    if (m) out[m[1]!] = `${m[2]}/${m[3]}`;
  }
  return out;
}

const NAMESPACES = ['mnt', 'pid', 'net', 'ipc', 'uts', 'user', 'cgroup'] as const;

/** The doctor's own open descriptors, by what they point at (pipe:[n], socket:[n], paths). */
function ownFdTargets(): Map<string, number> {
  const out = new Map<string, number>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      out.set(readlinkSync(`/proc/self/fd/${fd}`), Number(fd));
    } catch {
      // the directory handle itself, closed by now
    }
  }
  return out;
}

function readOutside(pid: number): Outside {
  const errors: string[] = [];
  const read = <T>(what: string, fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      errors.push(`${what}: ${codeOf(err)}`);
      return undefined;
    }
  };
  const o: Outside = { pid, nsOwn: [], nsShared: [], shared: [], errors };
  o.status = read('status', () => parseStatus(readFileSync(`/proc/${pid}/status`, 'utf8')));
  o.limits = read('limits', () => parseLimits(readFileSync(`/proc/${pid}/limits`, 'utf8')));
  for (const ns of NAMESPACES) {
    const theirs = read(`ns/${ns}`, () => readlinkSync(`/proc/${pid}/ns/${ns}`));
    const mine = read(`own ns/${ns}`, () => readlinkSync(`/proc/self/ns/${ns}`));
    if (theirs === undefined || mine === undefined) continue;
    (theirs === mine ? o.nsShared : o.nsOwn).push(ns);
  }
  o.root = read('root', () => readdirSync(`/proc/${pid}/root`).sort());
  o.fds = read('fd', () => readdirSync(`/proc/${pid}/fd`).map((fd) => ({ fd: Number(fd), target: readlinkSync(`/proc/${pid}/fd/${fd}`) })));
  if (o.fds) {
    const mine = ownFdTargets();
    // anon_inode targets name a kind, not an object; /dev/null is everyone's
    for (const { fd, target } of o.fds) {
      if (fd > 2 && mine.has(target) && !target.startsWith('anon_inode:') && target !== '/dev/null') o.shared.push(`fd ${fd} → ${target} (the doctor's fd ${mine.get(target)})`);
    }
  }
  return o;
}

// ---- one probe run --------------------------------------------------------------------

interface RunSpec {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  namespaced: boolean;
  timeoutMs: number;
  outsideFile: string;
  dataFile: string;
}

async function runProbe(spec: RunSpec): Promise<ProbeRun> {
  rmSync(spec.outsideFile, { force: true });
  rmSync(spec.dataFile, { force: true });
  const run: ProbeRun = { planted: false };
  const [file, ...args] = spec.argv;
  // Detached: a group of its own, so a timeout kill reaches whatever it started.
  const child = spawn(file!, args, { cwd: spec.cwd, env: spec.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-4000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  let spawnError: string | undefined;
  child.once('error', (err) => (spawnError = `${argv0(spec.argv)}: ${codeOf(err)}`));
  const killAll = () => {
    if (child.pid === undefined) return;
    for (const target of [-child.pid, child.pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  };

  // The first line, or the end of output, or the timeout.
  let timedOut = false;
  const line = await new Promise<string | undefined>((resolve) => {
    const timer = setTimeout(() => {
      timedOut = true;
      finish(undefined);
    }, spec.timeoutMs);
    const onData = () => {
      const nl = stdout.indexOf('\n');
      if (nl >= 0) finish(stdout.slice(0, nl));
    };
    function finish(v: string | undefined) {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      resolve(v);
    }
    child.stdout.on('data', onData);
    child.once('close', () => finish(undefined));
    child.once('error', () => finish(undefined));
  });

  let nodePid: number | undefined;
  if (line !== undefined) {
    try {
      run.results = JSON.parse(line) as ProbeResults;
    } catch {
      run.error = `the probe printed something that is not its report: ${line.slice(0, 200)}`;
    }
    nodePid = spec.namespaced ? findSandboxedNode(child.pid!) : child.pid;
    if (nodePid !== undefined) run.outside = readOutside(nodePid);
  }

  // Let it go: SIGTERM to node itself (inside a sandbox it is in a session of its own), then wait.
  if (nodePid !== undefined) {
    try {
      process.kill(nodePid, 'SIGTERM');
    } catch {
      // gone already
    }
  } else if (child.exitCode === null) {
    killAll(); // bubblewrap's death takes the sandbox with it (--die-with-parent)
  }
  let exit = await within(exited, spec.timeoutMs);
  if (!exit) {
    killAll();
    exit = await within(exited, 2000);
  }
  run.exit = exit;
  if (!run.results && !run.error) {
    const why = spawnError ?? (timedOut ? `no report in ${spec.timeoutMs} ms; killed` : `exit ${exit?.code ?? exit?.signal}`);
    const tail = stderr.trim().split('\n').filter(Boolean).slice(-2).join(' / ');
    run.error = `the probe did not report (${why})${tail ? `: ${tail}` : ''}`;
  }
  run.planted = existsSync(spec.outsideFile);
  const st = statSync(spec.dataFile, { throwIfNoEntry: false });
  if (st) run.dataFile = { uid: st.uid, gid: st.gid };
  return run;
}

/** The planned command line without Node's permission flags: the same chain, one layer fewer. */
function withoutPermissionModel(plan: SandboxPlan, machine: Machine, agent: AgentConfig): string[] {
  const runAt = plan.argv.length - agent.args.length - 1;
  const nodeAt = plan.argv.lastIndexOf(process.execPath, runAt);
  return plan.argv.filter((a, i) => !(i > nodeAt && i < runAt && (a === machine.permissionFlag || a.startsWith('--allow-'))));
}

/** The top-level names a bubblewrap command line puts in the sandbox's /. */
function expectedRoot(plan: SandboxPlan, machine: Machine): Set<string> {
  const out = new Set<string>();
  const start = machine.bwrap ? plan.argv.indexOf(machine.bwrap) : -1;
  if (start < 0) return out;
  const end = plan.argv.indexOf('--', start);
  const top = (p: string | undefined) => p?.split('/').filter(Boolean)[0];
  for (let i = start; i < end; i++) {
    const a = plan.argv[i];
    const dst = a === '--ro-bind' || a === '--bind' || a === '--ro-bind-try' || a === '--dev-bind' ? top(plan.argv[i + 2])
      : a === '--tmpfs' || a === '--proc' || a === '--dev' || a === '--dir' ? top(plan.argv[i + 1]) : undefined;
    if (dst) out.add(dst);
  }
  return out;
}

// ---- verdicts ----------------------------------------------------------------------------

const FIX = {
  bwrap: 'apt-get install bubblewrap',
  userns: 'enable unprivileged user namespaces: sysctl -w user.max_user_namespaces=15000 (and kernel.unprivileged_userns_clone=1 or kernel.apparmor_restrict_unprivileged_userns=0 where the kernel has them)',
  setpriv: 'apt-get install util-linux (setpriv)',
  prlimit: 'apt-get install util-linux (prlimit)',
  node: 'Node >= 20 (its permission model); outheis needs >= 20.19',
} as const;

interface Evidence {
  machine: Machine;
  plan: SandboxPlan;
  agent: AgentConfig;
  account: Account | undefined;
  full: ProbeRun;
  bare: ProbeRun | undefined;
  port: number;
  reachable: boolean;
  expectedEnv: string[];
  closedFds: number[];
  expectedRoot: Set<string>;
}

const works = (layer: Layer, evidence: string): LayerReport => ({ layer, status: 'works', evidence });
const missing = (layer: Layer, evidence: string, fix?: string): LayerReport => ({ layer, status: 'MISSING', evidence, ...(fix ? { fix } : {}) });
const verdict = (layer: Layer, ok: boolean, evidence: string, fix?: string): LayerReport => (ok ? works(layer, evidence) : missing(layer, evidence, fix));

/** The planned layer's reason for being left out, from plan.missing. */
const whyMissing = (plan: SandboxPlan, layer: Layer): string | undefined => plan.missing.find((m) => m.startsWith(`${layer}:`))?.slice(layer.length + 1).trim();

const nsFix = (m: Machine) => (m.bwrap ? FIX.userns : FIX.bwrap);

function uidLayer(e: Evidence): LayerReport {
  const L = LAYERS.uid;
  if (!e.machine.root) return { layer: L, status: 'not applicable', evidence: `not root: agents run as the operator (uid ${process.getuid?.()}); there is no uid to drop to` };
  if (!e.plan.layers.includes(L) || !e.account) return missing(L, `not planned: ${whyMissing(e.plan, L) ?? 'no account'}`, FIX.setpriv);
  const r = e.full.results;
  if (!r) return missing(L, e.full.error ?? 'no report');
  const { uid, gid } = e.account;
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
  return verdict(L, inside && kernel, `${seen} (account ${uid}); ${caps}`, FIX.setpriv);
}

function namespacesLayer(e: Evidence): LayerReport {
  const L = LAYERS.namespaces;
  if (!e.plan.layers.includes(L)) {
    const root = e.full.outside?.root ?? e.bare?.results?.root.entries;
    return missing(L, `not planned: ${whyMissing(e.plan, L) ?? 'bubblewrap is not available'}${root ? `; the probe's / holds the host's (${root.length} entries${root.includes('etc') ? ', etc included' : ''})` : ''}`, nsFix(e.machine));
  }
  const full = e.full.results;
  const bare = e.bare?.results;
  if (!full) return missing(L, e.full.error ?? 'no report');
  // Without the permission model the namespace is what refuses: /etc is simply not there.
  const files = bare ? [bare.shadow, bare.passwd] : [full.shadow, full.passwd];
  const filesRefused = files.every(refused);
  const root = bare?.root.entries ?? e.full.outside?.root;
  const strays = root ? root.filter((n) => !e.expectedRoot.has(n)) : ['(unreadable)'];
  const own = e.full.outside?.nsOwn;
  const needOwn = ['mnt', 'pid', 'ipc', 'uts'];
  const nsOk = own === undefined ? full.uid.pid < 10 : needOwn.every((n) => own.includes(n));
  const parts = [
    `/etc/shadow ${said(files[0])}, /etc/passwd ${said(files[1])}${bare ? '' : ' (with the permission model on)'}`,
    root ? `/ holds ${strays.length ? `unexpected ${strays.join(', ')} among ` : 'only '}${root.join(' ')}` : '/ unreadable',
    `pid ${full.uid.pid}`,
    own === undefined ? `namespaces unreadable from outside (${e.full.outside?.errors.join('; ') ?? 'node not found'})` : `own ${own.filter((n) => n !== 'net').join(' ')} namespaces`,
  ];
  return verdict(L, filesRefused && strays.length === 0 && nsOk && full.uid.pid < 10, parts.join('; '), nsFix(e.machine));
}

function netnsLayer(e: Evidence): LayerReport {
  const L = LAYERS.netns;
  const target = `the doctor's 127.0.0.1:${e.port}`;
  if (!e.plan.layers.includes(L)) {
    const c = e.full.results?.connect;
    return missing(L, `not planned: ${whyMissing(e.plan, LAYERS.namespaces) ?? 'bubblewrap is not available'}${c ? `; connect to ${target}: ${said(c)}` : ''}`, nsFix(e.machine));
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
  return verdict(L, ok, parts.join('; '), nsFix(e.machine));
}

function permissionLayer(e: Evidence): LayerReport {
  const L = LAYERS.permission;
  const r = e.full.results;
  if (!r) return missing(L, e.full.error ?? 'no report');
  const denied = (a: Attempt) => !a.ok && a.code === 'ERR_ACCESS_DENIED';
  const tries: [string, Attempt][] = [['spawn', r.spawn], ['Worker', r.worker], ['write outside data', r.writeOutside], ['read /etc/passwd', r.passwd]];
  const grantOk = r.writeData.ok && e.full.dataFile !== undefined;
  const ok = tries.every(([, a]) => denied(a)) && grantOk && !e.full.planted;
  const refusals = tries.filter(([, a]) => denied(a)).map(([w]) => w);
  const others = tries.filter(([, a]) => !denied(a)).map(([w, a]) => `${w}: ${said(a)}`);
  const grant = `write in data: ${said(r.writeData)}${e.full.dataFile && e.machine.root ? ` (owned by uid ${e.full.dataFile.uid})` : ''}`;
  const parts = [refusals.length ? `${refusals.join(', ')}: ERR_ACCESS_DENIED` : 'nothing refused', ...others, grant];
  if (e.full.planted) parts.push('the write outside data reached the host');
  return verdict(L, ok, parts.join('; '), FIX.node);
}

function rlimitsLayer(e: Evidence): LayerReport {
  const L = LAYERS.rlimits;
  if (!e.plan.layers.includes(L)) return missing(L, `not planned: ${whyMissing(e.plan, L) ?? 'prlimit is not available'}`, FIX.prlimit);
  const r = e.full.results;
  if (!r) return missing(L, e.full.error ?? 'no report');
  const want = `${PROBE_LIMITS.nofile}/${PROBE_LIMITS.nofile}`;
  const wantProc = `${PROBE_LIMITS.nproc}/${PROBE_LIMITS.nproc}`;
  let limits = e.full.outside?.limits;
  let where = e.full.outside?.limits ? `/proc/${e.full.outside.pid}/limits` : '';
  if (!limits && e.bare?.results?.limits.ok) {
    limits = parseLimits((e.bare.results.limits.detail ?? '').replaceAll('; ', '\n'));
    where = 'the probe\'s /proc/self/limits';
  }
  const files = limits?.['open files'];
  const procs = limits?.['processes'];
  const emfile = r.nofile.code === 'EMFILE' && (r.nofile.highest ?? Infinity) < PROBE_LIMITS.nofile;
  const ok = files === want && procs === wantProc && emfile;
  const parts = [
    limits ? `Max open files ${files}, Max processes ${procs} (${where})` : `limits unreadable (${e.full.outside?.errors.join('; ') ?? 'node not found'})`,
    r.nofile.ok ? `opened ${r.nofile.opened} files without a refusal` : `open() refused ${r.nofile.code} after fd ${r.nofile.highest ?? '-'}`,
  ];
  return verdict(L, ok, parts.join('; '), FIX.prlimit);
}

function heapLayer(e: Evidence): LayerReport {
  const L = LAYERS.heap;
  const memory = e.agent.limits.memory ?? PROBE_LIMITS.memory;
  const flag = e.plan.argv.find((a) => a.startsWith('--max-old-space-size='));
  if (!e.plan.layers.includes(L) || !flag) return missing(L, 'not planned: no heap cap on the command line');
  const r = e.full.results;
  if (!r) return missing(L, e.full.error ?? 'no report');
  const limit = r.heap.heapSizeLimit;
  const old = Number(flag.split('=')[1]) * MiB;
  if (limit <= memory) return works(L, `heap_size_limit ${mib(limit)} <= limits.memory ${mib(memory)} (${flag})`);
  return missing(L,
    `heap_size_limit ${mib(limit)} > limits.memory ${mib(memory)}: ${flag} caps only V8's old generation; the young generation adds ${mib(limit - old)}`,
    'nothing to install: the cap policies/sandbox.ts computes leaves out the young generation');
}

function envLayer(e: Evidence): LayerReport {
  const L = LAYERS.env;
  const r = e.full.results;
  if (!r) return missing(L, e.full.error ?? 'no report');
  // bubblewrap sets PWD itself when it changes directory (--chdir): not something passed through.
  const bwrapPwd = e.plan.namespaced && r.env.keys.includes('PWD') && r.env.pwdIsCwd;
  const extra = r.env.keys.filter((k) => !e.expectedEnv.includes(k) && !(k === 'PWD' && bwrapPwd));
  const ok = !r.env.secret && extra.length === 0;
  const parts = [
    r.env.secret ? `${SECRET_VAR} reached the probe` : `${SECRET_VAR} (set in the doctor) not passed`,
    extra.length ? `unexpected: ${extra.join(', ')}` : `the probe sees only ${e.expectedEnv.filter((k) => r.env.keys.includes(k)).join(', ') || 'nothing'}${bwrapPwd ? ' and PWD (bubblewrap\'s --chdir)' : ''}`,
  ];
  return verdict(L, ok, parts.join('; '));
}

function fdsLayer(e: Evidence): LayerReport {
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
    shared === undefined ? `fd table unreadable from outside (${e.full.outside?.errors.join('; ') ?? 'node not found'})`
      : shared.length ? `the doctor's reached it: ${shared.join(', ')}` : 'none of the doctor\'s (its listener included) reached it',
  ];
  if (e.closedFds.length) parts.push(`closed inherited fd ${e.closedFds.join(', ')} first, as the supervisor does`);
  return verdict(L, ok, parts.join('; '));
}

// ---- the doctor -----------------------------------------------------------------------------

function machineOf(m: Machine): DoctorMachine {
  return { ...m, node: process.version, uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1 };
}

/** A directory others can enter: mkdtemp makes 0700, which a dropped uid cannot traverse. */
function worldDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'outheis-doctor-'));
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * Probe every layer on this machine. Like the supervisor at start, it first closes
 * descriptors this process inherited without close-on-exec (closeInheritedFds), so
 * call it from a short-lived process (the CLI), not from a host that needs them.
 */
export async function runDoctor(opts: DoctorOptions = {}): Promise<DoctorReport> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // 0. as the supervisor starts: nothing inherited without close-on-exec passes on
  const closedFds = closeInheritedFds();
  // 1. what this machine has
  const machine = opts.machine ?? probeMachine();
  const dir = worldDir();
  let server: Server | undefined;
  const hadSecret = Object.prototype.hasOwnProperty.call(process.env, SECRET_VAR);
  const oldSecret = process.env[SECRET_VAR];
  try {
    // 2. the probe's code, readable by a dropped uid
    const code = join(dir, 'code');
    mkdirSync(code, { mode: 0o755 });
    chmodSync(code, 0o755);
    const script = join(code, 'probe.mjs');
    copyFileSync(PROBE_SCRIPT, script);
    chmodSync(script, 0o644);
    server = await listen();
    const port = (server.address() as { port: number }).port;
    const data = join(dir, 'data');
    const outsideFile = join(code, 'planted.txt');
    // 3. one agent, as a config file would give it
    const config: Config = parseConfig({
      state_dir: join(dir, 'state'),
      agents: {
        [PROBE_AGENT]: {
          run: 'code/probe.mjs',
          args: [`--port=${port}`, `--data=${data}`, `--outside=${outsideFile}`],
          unveil: { data: 'rw' },
          limits: { nofile: PROBE_LIMITS.nofile, nproc: PROBE_LIMITS.nproc, memory: '128MiB' },
        },
      },
    }, join(dir, 'outheis.json'));
    const agent = config.agents[PROBE_AGENT]!;
    // 4. its own uid when root, and its data directory made and handed over
    const accounts = machine.root ? allocateAccounts([{ name: PROBE_AGENT, user: agent.user }]) : undefined;
    const account = accounts?.get(PROBE_AGENT);
    prepareDomains(config, accounts);
    // 5. the exact plan the supervisor would make
    const plan = planSandbox(agent, { config, machine, account });
    // 6. the environment the supervisor would give it, with a secret in ours that must not pass
    process.env[SECRET_VAR] = 'the probe must not see this';
    const env = agentEnv({ name: PROBE_AGENT, env: agent.env, heartbeatMs: agent.heartbeat, maxFrame: agent.limits.frame });
    const spec = { cwd: dir, env, namespaced: plan.namespaced, timeoutMs, outsideFile, dataFile: join(data, 'probe.txt') };
    // 7. the probe, as planned; then without the permission model
    const full = await runProbe({ ...spec, argv: plan.argv });
    const bare = await runProbe({ ...spec, argv: withoutPermissionModel(plan, machine, agent) });
    const e: Evidence = {
      machine, plan, agent, account, full, bare: bare.results ? bare : undefined, port,
      reachable: await reachable(port), expectedEnv: Object.keys(env), closedFds, expectedRoot: expectedRoot(plan, machine),
    };
    // 8. the verdicts
    const layers = [uidLayer(e), namespacesLayer(e), netnsLayer(e), permissionLayer(e), rlimitsLayer(e), heapLayer(e), envLayer(e), fdsLayer(e)];
    return { machine: machineOf(machine), layers, ok: layers.every((l) => l.status !== 'MISSING') };
  } finally {
    if (hadSecret) process.env[SECRET_VAR] = oldSecret;
    else delete process.env[SECRET_VAR];
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
}
