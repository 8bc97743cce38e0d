// The unit's sandboxing: every directive systemd offers that still lets the
// supervisor do its job, each with why it is safe, and each one left out with why.
// The job, as the code does it (policies/): read the config, agents' code, node and
// the SDK; write state_dir and the agents' domains (mkdir, chown, setfacl, also on
// paths unveiled `r`); exec nice → setpriv → bwrap → prlimit → node, where setpriv
// (as root) drops to the agent's uid with no_new_privs and empty capability sets
// BEFORE bwrap, so bubblewrap always runs unprivileged and builds its namespaces in
// a user namespace of its own (full capabilities there, none here). The supervisor
// itself therefore never mounts and never needs CAP_SYS_ADMIN. Seccomp filters and
// the mount namespace are inherited by the agents: what is here confines them too.
//
// The reason of every entry is rendered into the unit as a comment above it, so an
// operator reading `outheis service install --print` sees why each line is there.

export type Scope = 'system' | 'user';

export interface Directive { key: string; value: string; why: string }
export interface LeftOut { key: string; why: string }

export interface HardeningNeeds {
  scope: Scope;
  /** An agent pledges `net`: the service must keep the host's network. */
  net: boolean;
  /** Something the supervisor reads or writes lies under /home, /root or /run/user. */
  home: boolean;
  /** Something it reads or writes lies under /tmp or /var/tmp, which PrivateTmp would hide. */
  tmp: boolean;
  /** Where the supervisor writes, as systemd list entries (already quoted; `-` marks a path that may not exist yet). */
  writable: string[];
}

/** What bwrap needs beyond @system-service (which holds @process: clone, unshare, setns; @setuid; capset): mount, umount2, pivot_root. */
const SYSCALLS_ALLOWED = '@system-service @mount';
/** Groups nothing in the chain calls (strace of bwrap: clone, unshare, pivot_root, mount, umount2; no chroot, no sethostname). */
const SYSCALLS_DENIED = '~@clock @cpu-emulation @debug @module @obsolete @raw-io @reboot @swap';

/** Capabilities the root supervisor uses itself, before setpriv empties them for the agent. */
const CAPABILITIES: [cap: string, use: string][] = [
  ['CAP_SETUID', 'setpriv --reuid'],
  ['CAP_SETGID', 'setpriv --regid --clear-groups'],
  ['CAP_SETPCAP', 'setpriv --bounding-set=-all'],
  ['CAP_CHOWN', 'a domain outheis creates is chowned to its agent'],
  ['CAP_FOWNER', 'setfacl on paths other users own'],
  ['CAP_DAC_OVERRIDE', 'reading, granting and revoking in domains agents own (0700 trees)'],
  ['CAP_KILL', 'signals to sandboxes running under the agents\' uids'],
  // Without it findSandboxedNode finds nothing (tested: doctor says "node not found"), and status, sampling, limits.memory and signals would hit bwrap instead of node.
  ['CAP_SYS_PTRACE', 'readlink /proc/<pid>/exe across uids, to find node inside each sandbox (policies/spawn.ts)'],
];

export function hardening(n: HardeningNeeds): { directives: Directive[]; leftOut: LeftOut[] } {
  const d: Directive[] = [];
  const out: LeftOut[] = [];
  const add = (key: string, value: string, why: string) => d.push({ key, value, why });
  const system = n.scope === 'system';

  // -- privileges
  add('NoNewPrivileges', 'yes', 'nothing in the chain gains privileges by exec: setpriv sets no_new_privs per agent anyway, and bwrap runs unprivileged after it');
  if (system) {
    add('CapabilityBoundingSet', CAPABILITIES.map(([c]) => c).join(' '), `only what the supervisor does itself: ${CAPABILITIES.map(([c, u]) => `${c.slice(4).toLowerCase()} (${u})`).join(', ')}; no CAP_SYS_ADMIN: bwrap gets its namespaces' capabilities from its own user namespace`);
  } else {
    add('CapabilityBoundingSet', '', 'none: the rootless supervisor drops no uid and grants no ACL, and bwrap gets its capabilities from its own user namespace whatever this set holds');
  }
  add('AmbientCapabilities', '', 'none handed to what it execs');
  if (!system) add('PrivateUsers', 'yes', 'implied anyway by the mount directives below in a user manager; harmless rootless: every agent is this user, mapped, and bwrap nests its own user namespace (what breaks bwrap is a root supervisor\'s unmapped agent uids)');
  add('RestrictSUIDSGID', 'yes', 'outheis never makes setuid/setgid files: domains are plain 0755 directories, grants are ACL entries');
  add('LockPersonality', 'yes', 'neither node nor bwrap changes its execution domain');
  add('RestrictRealtime', 'yes', 'QoS is `nice` (SCHED_OTHER), never a realtime class');
  add('KeyringMode', 'private', 'no kernel keyring is used; agents must not share a session keyring with other services');

  // -- system calls (seccomp: inherited by every agent)
  add('SystemCallArchitectures', 'native', 'node and the tools are native binaries: no 32-bit syscall ABI needed');
  add('SystemCallFilter', SYSCALLS_ALLOWED, '@system-service has clone/unshare/setns (@process), setuid/setgid/setgroups (@setuid), capset, prlimit, setpriority; @mount adds what bwrap needs to build a root (mount, umount2, pivot_root)');
  add('SystemCallFilter', SYSCALLS_DENIED, 'groups no step of the chain calls (checked with strace of bwrap --unshare-all)');
  add('SystemCallErrorNumber', 'EPERM', 'a refused call fails with EPERM instead of killing the process with SIGSYS: libuv falls back (io_uring), and an unforeseen call is an error the supervisor reports, not its death');
  add('RestrictNamespaces', 'user mnt pid ipc uts net cgroup', 'exactly what bwrap --unshare-all creates (it also tries cgroup); only the time namespace is refused');
  add('RestrictAddressFamilies', n.net ? 'AF_UNIX AF_NETLINK AF_INET AF_INET6' : 'AF_UNIX AF_NETLINK', `AF_UNIX for the control socket and the journal, AF_NETLINK for bwrap bringing up lo in a new net namespace${n.net ? ', AF_INET/AF_INET6 for the agents that pledge net' : '; no agent pledges net, so no IP sockets (install again after adding one)'}`);

  // -- file system: a mount namespace (bwrap builds each sandbox's root from this view)
  add('ProtectSystem', 'strict', 'the whole tree read-only except /proc, /sys, /dev (bwrap\'s fresh /proc needs the host\'s one fully visible) and what ReadWritePaths names');
  if (n.writable.length) add('ReadWritePaths', n.writable.join(' '), 'state_dir and the agents\' domains (owns, and unveiled paths, also `r` ones: outheis creates them and sets ACLs on them); `-` marks one that does not exist yet');
  add('ProtectHome', n.home ? 'read-only' : 'yes', n.home
    ? 'read-only, not yes: the config, code or a domain lies under /home, /root or /run/user (rw domains there come back through ReadWritePaths)'
    : 'nothing the supervisor reads or writes lies under /home, /root or /run/user');
  if (system) add('ProtectProc', 'invisible', 'other users\' processes hidden; the supervisor still sees its agents (CAP_SYS_PTRACE, above), and bwrap still mounts each sandbox a fresh /proc under hidepid (tested with unshare)');
  else out.push({ key: 'ProtectProc', why: 'a user manager cannot mount a /proc of its own for the service' });
  add('PrivateMounts', 'yes', 'the service\'s mounts stay its own (it makes none itself: bwrap mounts inside its own namespaces)');
  if (n.tmp) out.push({ key: 'PrivateTmp', why: 'the config, code, state_dir or a domain lies under /tmp or /var/tmp, which it would hide: move them out and install again to have it' });
  else add('PrivateTmp', 'yes', 'the supervisor stages the SDK and the mask stand-ins in a /tmp of its own; bwrap binds them from there, and each sandbox has its own /tmp');
  add('PrivateDevices', 'yes', 'bwrap\'s --dev binds only null, zero, full, random, urandom and tty, all present in the private /dev');
  add('ProtectKernelModules', 'yes', 'nothing loads modules');
  add('ProtectClock', 'yes', 'nothing sets the clock');
  add('ProtectHostname', 'yes', 'each sandbox has its own UTS namespace; the supervisor never sets a host name');

  // -- network
  if (!n.net) add('PrivateNetwork', 'yes', 'no agent pledges net: the service gets a net namespace with lo only (the control and notify sockets are paths, not addresses); install again after adding a net pledge');
  if (system && !n.net) add('IPAddressDeny', 'any', 'no agent pledges net; where cgroup BPF is missing systemd ignores it, PrivateNetwork still holds');
  if (n.net) out.push({ key: 'PrivateNetwork', why: 'an agent pledges net: its sandbox shares the service\'s network (bwrap --share-net), which must be the host\'s' });

  // -- left out, and why (the issue found each one breaking bubblewrap, or a later issue's work)
  out.push(
    { key: 'ProtectKernelTunables', why: 'it overmounts /proc/sys, and the kernel then refuses bwrap a fresh /proc in its user namespace' },
    { key: 'ProtectKernelLogs', why: 'it hides /proc/kmsg, another overmount inside /proc: the same refused /proc (issue 12)' },
    { key: 'ProcSubset=pid', why: 'a pid-only /proc is not fully visible: bwrap cannot mount /proc' },
    { key: 'MemoryDenyWriteExecute', why: 'node\'s JIT writes executable memory' },
    { key: 'ProtectControlGroups', why: 'agents go into the service\'s delegated cgroup subtree (Delegate=yes), which it must write' },
    { key: 'UMask=0077', why: 'domains\' missing parents and the staged SDK must stay traversable by the agents\' uids; outheis sets tight modes itself where they matter (state_dir 0700)' },
  );
  if (system) {
    out.push({ key: 'PrivateUsers', why: 'the agents\' uids would not be mapped: setpriv cannot drop to them' });
    out.push({ key: 'RemoveIPC', why: 'applies to services with a User= only; this one runs as root' });
  } else {
    out.push({ key: 'IPAddressDeny', why: 'a user manager cannot attach BPF firewalls (PrivateNetwork holds where no agent pledges net)' });
  }
  return { directives: d, leftOut: out };
}
