// A systemd unit's sandboxing around a command, on a machine where systemd cannot
// start units: the [Service] directives are read off the unit text and turned into a
// plan that test/helpers/unit-sandbox.py applies (mount namespace, user namespace,
// capabilities, no_new_privs, real seccomp filters) before it execs the command, in
// the order systemd 252 does. What cannot be emulated is listed, never dropped
// quietly: a test must be able to assert that nothing it relies on was left out.
// Over 300 lines: one table of directives, each with how it is emulated.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './harness.js';
import { scratchDirs } from './scratch.js';

/** Where each plan and its report lie; removed after the test file. */
const planDir = scratchDirs('outheis-unitbox-plan-');

/** The [Service] section, in order; repeated keys stay repeated, as systemd merges them. */
export function serviceDirectives(unit: string): [string, string][] {
  const out: [string, string][] = [];
  let section = '';
  const lines = unit.replace(/\\\n/g, ' ').split('\n');
  for (const raw of lines) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[')) section = line;
    else if (section === '[Service]' && line.includes('=')) out.push([line.slice(0, line.indexOf('=')).trim(), line.slice(line.indexOf('=') + 1).trim()]);
  }
  return out;
}

/** Words of a value, with systemd's double quotes. */
const words = (v: string): string[] => [...v.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
const yes = (v: string): boolean => /^(1|yes|true|on)$/i.test(v);

interface Rule { path: string; mode: 'ro' | 'rw' | 'keep'; optional?: boolean; why: string }
interface Seccomp {
  nativeOnly: boolean;
  extraArchs: string[];
  addressFamilies?: { allow: boolean; families: number[] };
  memoryDenyWriteExecute?: boolean;
  restrictRealtime?: boolean;
  restrictSuidSgid?: boolean;
  lockPersonality?: boolean;
  namespaces?: string[];
  deny: { why: string; syscalls: string[] }[];
  filter?: { allow: boolean; errno: number | null; syscalls: { name: string; errno: number | null }[] };
}
export interface Plan {
  mkdirs: { path: string; mode: number }[];
  mounts: { proc?: string; privateDev?: boolean; tmpfs: { path: string; options: string; ro?: boolean }[]; inaccessible: string[]; rules: Rule[] } | undefined;
  unshare: string[];
  privateUsers?: { uid: number; gid: number };
  capabilities: string[] | null;
  noNewPrivileges: boolean;
  umask: number | null;
  keyring: string;
  rlimits: Record<string, number>;
  user?: { uid: number; gid: number; groups: number[] };
  chdir?: string;
  seccomp: Seccomp;
  env: Record<string, string>;
  report: string;
}

export interface UnitSandbox {
  /** Put before the command: `[...prefix, node, cli, 'start', ...]`. */
  prefix: string[];
  plan: Plan;
  /** Each directive applied, as written. */
  emulated: string[];
  /** Restrictions the unit asks for that this harness does NOT apply, and why. */
  unemulated: { directive: string; why: string }[];
  /** Directives that are no restriction on what the service can do (the manager's own behaviour). */
  notRestrictions: string[];
  /** What the helper did and which syscall names its libseccomp did not know (after the command started). */
  report(): { done: string[]; skipped: string[] } | undefined;
}

const ALL_CAPS = ['chown', 'dac_override', 'dac_read_search', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap', 'linux_immutable', 'net_bind_service',
  'net_broadcast', 'net_admin', 'net_raw', 'ipc_lock', 'ipc_owner', 'sys_module', 'sys_rawio', 'sys_chroot', 'sys_ptrace', 'sys_pacct', 'sys_admin', 'sys_boot',
  'sys_nice', 'sys_resource', 'sys_time', 'sys_tty_config', 'mknod', 'lease', 'audit_write', 'audit_control', 'setfcap', 'mac_override', 'mac_admin', 'syslog',
  'wake_alarm', 'block_suspend', 'audit_read', 'perfmon', 'bpf', 'checkpoint_restore'];
const FAMILIES: Record<string, number> = { AF_UNIX: 1, AF_LOCAL: 1, AF_INET: 2, AF_AX25: 3, AF_IPX: 4, AF_APPLETALK: 5, AF_X25: 9, AF_INET6: 10, AF_KEY: 15, AF_NETLINK: 16, AF_PACKET: 17, AF_RDS: 21, AF_LLC: 26, AF_CAN: 29, AF_TIPC: 30, AF_BLUETOOTH: 31, AF_ALG: 38, AF_VSOCK: 40, AF_XDP: 44, AF_MCTP: 45 };
const NAMESPACES = ['cgroup', 'ipc', 'net', 'mnt', 'pid', 'user', 'uts', 'time'];
const errnoOf = (name: string): number | null => (name === 'kill' ? null : /^\d+$/.test(name) ? Number(name) : (constants.errno as Record<string, number>)[name] ?? null);

const groups = new Map<string, string[]>();
/** A syscall group as this machine's systemd defines it, nested groups expanded. */
export function syscallGroup(name: string): string[] {
  if (!name.startsWith('@')) return [name];
  let got = groups.get(name);
  if (!got) {
    const r = spawnSync('systemd-analyze', ['syscall-filter', '--no-pager', name], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`systemd-analyze syscall-filter ${name}: ${r.stderr}`);
    const members = r.stdout.split('\n').slice(1).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    got = [...new Set(members.flatMap(syscallGroup))];
    groups.set(name, got);
  }
  return got;
}

// Tables from systemd 252's src/core/namespace.c (the paths each Protect* setting covers).
const TUNABLES_RO = ['/proc/acpi', '/proc/apm', '/proc/asound', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/latency_stats', '/proc/mtrr', '/proc/scsi', '/proc/sys',
  '/proc/sysrq-trigger', '/proc/timer_stats', '/sys', '/sys/fs/bpf', '/sys/kernel/debug', '/sys/kernel/tracing'];
const HOMES = ['/home', '/run/user', '/root'];
/** Not restrictions: how the manager starts, stops, restarts and watches the service. */
const MANAGER = /^(Type|ExecStart|ExecStartPre|ExecStartPost|ExecReload|ExecStop|ExecStopPost|Restart|RestartSec|RestartPreventExitStatus|SuccessExitStatus|TimeoutStartSec|TimeoutStopSec|TimeoutSec|WatchdogSec|NotifyAccess|KillMode|KillSignal|SendSIGKILL|FinalKillSignal|PIDFile|RemainAfterExit|Delegate|StandardOutput|StandardError|StandardInput|SyslogIdentifier|SyslogLevelPrefix|OOMPolicy|FileDescriptorStoreMax|StateDirectoryMode|LogsDirectoryMode|RuntimeDirectoryMode|CacheDirectoryMode|ConfigurationDirectoryMode|RuntimeDirectoryPreserve|TasksMax|MemoryMax|MemoryHigh|CPUQuota|CPUWeight|IOWeight|Slice)$/;

export interface UnitSandboxOptions {
  /** Added to the environment systemd would give the service (PATH, LANG, Environment=, *_DIRECTORY). */
  env?: Record<string, string>;
  /** Directives appended to [Service], as `Key=value` (a variant of the unit). */
  add?: string[];
}

/** Read the unit and make the prefix that runs a command under its [Service] sandboxing. */
export function unitSandbox(unit: string, opts: UnitSandboxOptions = {}): UnitSandbox {
  const directives = [...serviceDirectives(unit), ...(opts.add ?? []).map((d) => [d.slice(0, d.indexOf('=')), d.slice(d.indexOf('=') + 1)] as [string, string])];
  const emulated: string[] = [];
  const unemulated: UnitSandbox['unemulated'] = [];
  const notRestrictions: string[] = [];
  const rules: Rule[] = [];
  const tmpfs: { path: string; options: string; ro?: boolean }[] = [];
  const inaccessible: string[] = [];
  const dirEnv: Record<string, string> = {};
  const env: Record<string, string> = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: process.env.LANG ?? 'C.UTF-8' };
  const plan: Plan = {
    mkdirs: [], mounts: undefined, unshare: [], capabilities: null, noNewPrivileges: false, umask: 0o022, keyring: 'private', rlimits: {},
    seccomp: { nativeOnly: false, extraArchs: ['X86', 'X32'], deny: [] }, env, report: '',
  };
  let mountNs = false;
  let procOpts: string[] = [];
  let privateDev = false;
  const caps = { set: null as Set<string> | null, drop: new Set<string>() };
  const sc = plan.seccomp;
  let filterEntries: Map<string, number | null> | undefined;
  let filterAllow = true;
  let filterErrno: number | null = null;

  for (const [key, value] of directives) {
    const d = `${key}=${value}`;
    const done = () => emulated.push(d);
    const cannot = (why: string) => unemulated.push({ directive: d, why });
    // A leading '-': a path that may be missing; '+': relative to RootDirectory= (here /).
    const optPath = (p: string) => ({ path: p.replace(/^[-+]+/, ''), optional: /^[-+]*-/.test(p) });
    if (MANAGER.test(key)) {
      notRestrictions.push(d);
      continue;
    }
    if (value.includes('%')) {
      cannot('specifiers (%...) are not expanded by this harness');
      continue;
    }
    switch (key) {
      case 'Environment': for (const w of words(value)) env[w.slice(0, w.indexOf('='))] = w.slice(w.indexOf('=') + 1); done(); break;
      case 'WorkingDirectory': plan.chdir = value.replace(/^-/, ''); done(); break;
      case 'UMask': plan.umask = parseInt(value, 8); done(); break;
      case 'KeyringMode': plan.keyring = value; done(); break;
      case 'NoNewPrivileges': plan.noNewPrivileges = yes(value); done(); break;
      case 'ProtectSystem':
        if (yes(value) || value === 'full') {
          mountNs = true;
          for (const p of ['/usr', '/boot', '/efi', ...(value === 'full' ? ['/etc'] : [])]) rules.push({ path: p, mode: 'ro', optional: p !== '/usr', why: key });
        } else if (value === 'strict') {
          mountNs = true;
          rules.push({ path: '/', mode: 'ro', why: key });
          for (const p of ['/proc', '/sys', '/dev', ...HOMES]) rules.push({ path: p, mode: 'keep', optional: true, why: key });
        }
        done(); break;
      case 'ProtectHome':
        mountNs ||= value !== 'no' && !/^(0|false|off)$/i.test(value);
        if (yes(value)) inaccessible.push(...HOMES);
        else if (value === 'read-only') for (const p of HOMES) rules.push({ path: p, mode: 'ro', optional: true, why: key });
        else if (value === 'tmpfs') for (const p of HOMES) tmpfs.push({ path: p, options: 'mode=755,size=4k', ro: true });
        done(); break;
      case 'ReadWritePaths': case 'ReadOnlyPaths':
        mountNs = true;
        for (const w of words(value)) rules.push({ ...optPath(w), mode: key === 'ReadWritePaths' ? 'rw' : 'ro', why: key });
        done(); break;
      case 'InaccessiblePaths': mountNs = true; inaccessible.push(...words(value).map((w) => optPath(w).path)); done(); break;
      case 'StateDirectory': case 'LogsDirectory': case 'CacheDirectory': case 'RuntimeDirectory': case 'ConfigurationDirectory': {
        const base = { StateDirectory: '/var/lib', LogsDirectory: '/var/log', CacheDirectory: '/var/cache', RuntimeDirectory: '/run', ConfigurationDirectory: '/etc' }[key];
        const paths = words(value).map((w) => join(base, w));
        for (const path of paths) {
          plan.mkdirs.push({ path, mode: 0o755 });
          rules.push({ path, mode: key === 'ConfigurationDirectory' ? 'ro' : 'rw', why: key });
        }
        dirEnv[key.replace('Directory', '').toUpperCase() + '_DIRECTORY'] = paths.join(':');
        mountNs = true;
        done(); break;
      }
      case 'PrivateTmp':
        if (yes(value)) {
          mountNs = true;
          for (const p of ['/tmp', '/var/tmp']) {
            tmpfs.push({ path: p, options: 'mode=1777' });
            rules.push({ path: p, mode: 'keep', why: key });
          }
        }
        done(); break;
      case 'PrivateDevices':
        if (yes(value)) {
          mountNs = privateDev = true;
          caps.drop.add('mknod').add('sys_rawio');
          sc.deny.push({ why: key, syscalls: syscallGroup('@raw-io') });
        }
        done(); break;
      case 'ProtectKernelTunables':
        if (yes(value)) {
          mountNs = true;
          for (const p of TUNABLES_RO) rules.push({ path: p, mode: 'ro', optional: p !== '/sys', why: key });
          rules.push({ path: '/sys/fs/cgroup', mode: 'keep', why: key });
          inaccessible.push('/proc/kallsyms', '/proc/kcore');
        }
        done(); break;
      case 'ProtectKernelModules':
        if (yes(value)) {
          mountNs = true;
          inaccessible.push('/lib/modules', '/usr/lib/modules');
          caps.drop.add('sys_module');
          sc.deny.push({ why: key, syscalls: syscallGroup('@module') });
        }
        done(); break;
      case 'ProtectKernelLogs':
        if (yes(value)) {
          mountNs = true;
          inaccessible.push('/proc/kmsg', '/dev/kmsg');
          caps.drop.add('syslog');
          sc.deny.push({ why: key, syscalls: ['syslog'] });
        }
        done(); break;
      case 'ProtectControlGroups':
        if (yes(value)) {
          mountNs = true;
          rules.push({ path: '/sys/fs/cgroup', mode: 'ro', why: key });
        }
        done(); break;
      case 'ProtectClock':
        if (yes(value)) {
          caps.drop.add('sys_time').add('wake_alarm');
          sc.deny.push({ why: key, syscalls: syscallGroup('@clock') });
          unemulated.push({ directive: d, why: 'DeviceAllow=char-rtc r (a device cgroup rule) is not applied: cgroup v1 here, and no manager to own the cgroup' });
        }
        done(); break;
      case 'ProtectHostname':
        if (yes(value)) {
          plan.unshare.push('uts');
          sc.deny.push({ why: key, syscalls: ['sethostname', 'setdomainname'] });
        }
        done(); break;
      case 'ProtectProc':
        if (value !== 'default') {
          mountNs = true;
          procOpts.push(`hidepid=${value}`);
        }
        done(); break;
      case 'ProcSubset':
        if (value === 'pid') {
          mountNs = true;
          procOpts.push('subset=pid');
        }
        done(); break;
      case 'PrivateIPC': if (yes(value)) plan.unshare.push('ipc'); done(); break;
      case 'PrivateNetwork': if (yes(value)) plan.unshare.push('net'); done(); break;
      case 'PrivateMounts': if (yes(value)) mountNs = true; done(); break;
      case 'PrivateUsers': if (yes(value)) plan.privateUsers = { uid: 0, gid: 0 }; done(); break;
      case 'CapabilityBoundingSet': {
        const invert = value.startsWith('~');
        const named = words(value.replace(/^~/, '')).map((c) => c.toLowerCase().replace(/^cap_/, ''));
        if (invert) caps.set = new Set([...(caps.set ?? ALL_CAPS)].filter((c) => !named.includes(c)));
        else caps.set = new Set([...(caps.set ?? []), ...named]);
        done(); break;
      }
      case 'AmbientCapabilities': if (value) cannot('ambient capabilities are not raised by this harness'); else done(); break;
      case 'SystemCallArchitectures': sc.nativeOnly = value === 'native'; if (value !== 'native' && value) cannot('only "native" is emulated'); else done(); break;
      case 'SystemCallErrorNumber': filterErrno = errnoOf(value); done(); break;
      case 'SystemCallFilter': {
        if (!value) { filterEntries = undefined; done(); break; }
        const deny = value.startsWith('~');
        if (!filterEntries) {
          filterEntries = new Map();
          filterAllow = !deny;
          // An allow-list always lets through what systemd itself needs to exec and exit.
          if (filterAllow) for (const s of syscallGroup('@default')) filterEntries.set(s, null);
        }
        for (const w of words(value.replace(/^~/, ''))) {
          const [name, err] = w.split(':') as [string, string | undefined];
          for (const s of syscallGroup(name)) {
            if (deny === !filterAllow) filterEntries.set(s, err === undefined ? null : errnoOf(err));
            else filterEntries.delete(s);
          }
        }
        done(); break;
      }
      case 'RestrictAddressFamilies': {
        if (!value) { delete sc.addressFamilies; done(); break; }
        const allow = !value.startsWith('~');
        const names = words(value.replace(/^~/, ''));
        const unknown = names.filter((n) => n !== 'none' && FAMILIES[n] === undefined);
        if (unknown.length) cannot(`unknown to this harness: ${unknown.join(' ')}`);
        sc.addressFamilies = { allow, families: names.filter((n) => n !== 'none').map((n) => FAMILIES[n]!).filter((n) => n !== undefined) };
        done(); break;
      }
      case 'RestrictNamespaces':
        if (/^(0|no|false|off)$/i.test(value)) delete sc.namespaces;
        else if (yes(value)) sc.namespaces = [];
        else if (value.startsWith('~')) sc.namespaces = NAMESPACES.filter((n) => !words(value.slice(1)).includes(n));
        else sc.namespaces = words(value);
        done(); break;
      case 'LockPersonality': sc.lockPersonality = yes(value); done(); break;
      case 'RestrictRealtime': sc.restrictRealtime = yes(value); done(); break;
      case 'RestrictSUIDSGID': sc.restrictSuidSgid = yes(value); done(); break;
      case 'MemoryDenyWriteExecute': sc.memoryDenyWriteExecute = yes(value); done(); break;
      case 'LimitNOFILE': case 'LimitNPROC': case 'LimitCORE': case 'LimitMEMLOCK':
        plan.rlimits[key.slice(5).toLowerCase()] = value === 'infinity' ? -1 : Number(value.split(':').pop()); done(); break;
      case 'RemoveIPC':
        // Acts when the unit stops, and only on the IPC objects of a non-root User=.
        notRestrictions.push(d); break;
      default:
        cannot('not known to this harness');
    }
  }
  for (const key of ['User', 'Group', 'DynamicUser', 'SupplementaryGroups']) {
    const hit = directives.find(([k, v]) => k === key && v && v !== 'root' && v !== '0');
    if (hit) unemulated.push({ directive: hit.join('='), why: 'the harness runs the service as root; a non-root service user is not emulated' });
  }
  if (filterEntries) sc.filter = { allow: filterAllow, errno: filterErrno, syscalls: [...filterEntries].map(([name, errno]) => ({ name, errno })) };
  if (procOpts.length) mountNs = true;
  if (mountNs) plan.mounts = { proc: procOpts.length ? procOpts.join(',') : undefined, privateDev, tmpfs, inaccessible, rules };
  if (caps.set || caps.drop.size) plan.capabilities = [...(caps.set ?? ALL_CAPS)].filter((c) => !caps.drop.has(c));
  Object.assign(env, dirEnv, opts.env ?? {});

  const dir = planDir();
  plan.report = join(dir, 'report.json');
  writeFileSync(join(dir, 'plan.json'), JSON.stringify(plan, null, 1));
  return {
    prefix: ['/usr/bin/python3', join(ROOT, 'test/helpers/unit-sandbox.py'), join(dir, 'plan.json'), '--'],
    plan, emulated, unemulated, notRestrictions,
    report() {
      try {
        return JSON.parse(readFileSync(plan.report, 'utf8')) as { done: string[]; skipped: string[] };
      } catch {
        return undefined;
      }
    },
  };
}
