#!/usr/bin/python3
# Applies a systemd unit's sandboxing to this process, then execs the command: the
# kernel half of test/helpers/unit-sandbox.ts, which reads the unit and hands over a
# plan (JSON, argv[1]). Run as root, as systemd's own exec step is. The order follows
# systemd 252's exec_child(): mount namespace and its mounts, then the user
# namespace (PrivateUsers= of a system unit comes after the mounts), rlimits, uid,
# capabilities, no_new_privs, and the seccomp filters last, next to execve().
# Over 300 lines because it is one sequence that must stay in that order.
import ctypes
import errno
import json
import os
import resource
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
libc.unshare.argtypes = [ctypes.c_int]
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
libc.syscall.restype = ctypes.c_long

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
MNT_DETACH = 2
CLONE = {'mnt': 0x00020000, 'uts': 0x04000000, 'ipc': 0x08000000, 'net': 0x40000000,
         'user': 0x10000000, 'pid': 0x20000000, 'cgroup': 0x02000000}
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP = 38, 24
SYS_KEYCTL = 250  # x86_64
KEYCTL_JOIN_SESSION_KEYRING = 1
CAPS = ['chown', 'dac_override', 'dac_read_search', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid',
        'setpcap', 'linux_immutable', 'net_bind_service', 'net_broadcast', 'net_admin', 'net_raw',
        'ipc_lock', 'ipc_owner', 'sys_module', 'sys_rawio', 'sys_chroot', 'sys_ptrace', 'sys_pacct',
        'sys_admin', 'sys_boot', 'sys_nice', 'sys_resource', 'sys_time', 'sys_tty_config', 'mknod',
        'lease', 'audit_write', 'audit_control', 'setfcap', 'mac_override', 'mac_admin', 'syslog',
        'wake_alarm', 'block_suspend', 'audit_read', 'perfmon', 'bpf', 'checkpoint_restore']

report = {'done': [], 'skipped': []}


def die(what):
    sys.stderr.write(f'unit-sandbox: {what}\n')
    sys.exit(226)  # systemd's EXIT_NAMESPACE: the unit could not be set up


def check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        die(f'{what}: {os.strerror(e)}')


def mount(src, dst, fstype, flags, data=None):
    enc = lambda s: s.encode() if isinstance(s, str) else s
    check(libc.mount(enc(src), enc(dst), enc(fstype), flags, enc(data)), f'mount {src or fstype} on {dst}')


def unescape(s):
    return s.replace('\\040', ' ').replace('\\011', '\t').replace('\\012', '\n').replace('\\134', '\\')


def mountinfo():
    out = []
    with open('/proc/self/mountinfo') as f:
        for line in f:
            fields = line.split()
            out.append((unescape(fields[4]), fields[5].split(',')))
    return out


FLAG_OPTS = {'ro': MS_RDONLY, 'nosuid': MS_NOSUID, 'nodev': MS_NODEV, 'noexec': MS_NOEXEC,
             'noatime': MS_NOATIME, 'nodiratime': MS_NODIRATIME, 'relatime': MS_RELATIME}


def remount_ro(path, opts):
    """Per-mount read-only, keeping the mount's other flags (a bind remount sets them all)."""
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY
    for o in opts:
        flags |= FLAG_OPTS.get(o, 0)
    mount(None, path, None, flags)


def under(path, root):
    return root == '/' or path == root or path.startswith(root + '/')


class Staging:
    """Empty stand-ins for InaccessiblePaths= files, on a tmpfs of our own that no one else sees."""

    def __init__(self):
        self.dir = f'/run/unit-sandbox-{os.getpid()}' if os.path.isdir('/run') else f'/tmp/unit-sandbox-{os.getpid()}'
        os.mkdir(self.dir, 0o000)
        mount('tmpfs', self.dir, 'tmpfs', MS_NOSUID | MS_NODEV | MS_NOEXEC, 'mode=000,size=4k')
        self.file = os.path.join(self.dir, 'file')
        os.close(os.open(self.file, os.O_CREAT | os.O_WRONLY, 0o000))
        os.chmod(self.file, 0o000)

    def close(self):
        check(libc.umount2(self.dir.encode(), MNT_DETACH), f'umount {self.dir}')
        os.rmdir(self.dir)


def inaccessible(path, staging):
    """What systemd's /run/systemd/inaccessible/* give: an empty, mode-000, read-only node."""
    if os.path.isdir(path) and not os.path.islink(path):
        mount('tmpfs', path, 'tmpfs', MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, 'mode=000,size=4k')
    else:
        mount(staging.file, path, None, MS_BIND)
        remount_ro(path, ['nosuid', 'nodev', 'noexec'])


def private_dev():
    """PrivateDevices=: a fresh /dev with the API pseudo devices only, read-only and noexec (systemd.exec(5))."""
    new = f'/run/unit-sandbox-dev-{os.getpid()}'
    os.mkdir(new, 0o755)
    mount('tmpfs', new, 'tmpfs', MS_NOSUID | MS_NOEXEC, 'mode=755,size=4m')
    for name in ['null', 'zero', 'full', 'random', 'urandom', 'tty']:
        if os.path.exists(f'/dev/{name}'):
            os.close(os.open(f'{new}/{name}', os.O_CREAT | os.O_WRONLY, 0o666))
            mount(f'/dev/{name}', f'{new}/{name}', None, MS_BIND)
    for sub in ['pts', 'shm', 'mqueue', 'hugepages']:
        if os.path.isdir(f'/dev/{sub}'):
            os.mkdir(f'{new}/{sub}', 0o755)
            mount(f'/dev/{sub}', f'{new}/{sub}', None, MS_BIND | MS_REC)
    os.symlink('pts/ptmx', f'{new}/ptmx')
    for link, target in [('fd', '/proc/self/fd'), ('stdin', '/proc/self/fd/0'), ('stdout', '/proc/self/fd/1'),
                         ('stderr', '/proc/self/fd/2'), ('core', '/proc/kcore')]:
        os.symlink(target, f'{new}/{link}')
    mount(new, '/dev', None, MS_BIND | MS_REC)
    check(libc.umount2(new.encode(), MNT_DETACH), f'umount {new}')
    os.rmdir(new)
    remount_ro('/dev', ['nosuid', 'noexec'])


def apply_mounts(plan):
    mp = plan['mounts']
    check(libc.unshare(CLONE['mnt']), 'unshare(CLONE_NEWNS)')
    mount(None, '/', None, MS_REC | MS_PRIVATE)
    staging = Staging()
    if mp.get('proc'):
        mount('proc', '/proc', 'proc', MS_NOSUID | MS_NODEV | MS_NOEXEC, mp['proc'])
        report['done'].append(f'fresh /proc ({mp["proc"]})')
    if mp.get('privateDev'):
        private_dev()
        report['done'].append('private /dev')
    for path in mp.get('tmpfs', []):
        mount('tmpfs', path['path'], 'tmpfs', MS_NOSUID | MS_NODEV | (MS_RDONLY if path.get('ro') else 0), path['options'])
    for path in mp.get('inaccessible', []):
        if os.path.lexists(path):
            inaccessible(path, staging)
    # Every path with a mode of its own becomes a mount point, so the pass below can tell them apart.
    mounted = {m for m, _ in mountinfo()}
    for rule in mp.get('rules', []):
        path = rule['path']
        if rule['mode'] == 'keep' or path == '/' or path in mounted:
            continue
        if not os.path.exists(path):
            if rule.get('optional'):
                continue
            die(f'{rule["why"]}: {path} does not exist')
        mount(path, path, None, MS_BIND | MS_REC)
    staging.close()
    # The read-only pass: each mount takes the mode of the longest rule above it.
    rules = sorted(mp.get('rules', []), key=lambda r: len(r['path']), reverse=True)
    for path, opts in mountinfo():
        rule = next((r for r in rules if under(path, r['path'])), None)
        if rule and rule['mode'] == 'ro' and 'ro' not in opts:
            remount_ro(path, opts)


def private_users(plan):
    """PrivateUsers=: root and the unit's user mapped to themselves; the maps are written from outside (a child)."""
    ids = sorted({0, plan['privateUsers']['uid']}), sorted({0, plan['privateUsers']['gid']})
    r, w = os.pipe()
    parent = os.getpid()
    child = os.fork()
    if child == 0:
        os.close(w)
        os.read(r, 1)
        try:
            for kind, nums in [('uid', ids[0]), ('gid', ids[1])]:
                with open(f'/proc/{parent}/{kind}_map', 'w') as f:
                    f.write(''.join(f'{n} {n} 1\n' for n in nums))
            os._exit(0)
        except OSError as e:
            sys.stderr.write(f'unit-sandbox: writing the id maps: {e}\n')
            os._exit(1)
    os.close(r)
    rc = libc.unshare(CLONE['user'])
    os.write(w, b'x')
    os.close(w)
    _, status = os.waitpid(child, 0)
    if rc != 0 or status != 0:
        die('PrivateUsers=: could not set up the user namespace')


def drop_caps(plan):
    keep = plan.get('capabilities')
    if keep is None:
        return
    for i, name in enumerate(CAPS):
        if name not in keep:
            rc = libc.prctl(PR_CAPBSET_DROP, i, 0, 0, 0)
            if rc != 0 and ctypes.get_errno() != errno.EINVAL:  # EINVAL: the kernel has no such capability
                check(rc, f'dropping CAP_{name.upper()} from the bounding set')


def seccomp_filters(plan):
    spec = plan.get('seccomp')
    if not spec:
        return
    try:
        import seccomp
    except ImportError:
        die('the unit asks for seccomp filters and libseccomp\'s python binding is missing: apt-get install python3-seccomp')
    A = seccomp

    def new(default):
        f = A.SyscallFilter(defaction=default)
        if not spec['nativeOnly']:
            for arch in spec.get('extraArchs', []):
                try:
                    f.add_arch(getattr(A.Arch, arch))
                except Exception:
                    pass
        # A root service with CAP_SYS_ADMIN may load filters without no_new_privs; systemd does so.
        f.set_attr(A.Attr.CTL_NNP, 1 if plan.get('noNewPrivileges') else 0)
        return f

    def rule(f, action, name, *args):
        try:
            f.add_rule(action, name, *args)
        except (RuntimeError, ValueError, OSError) as e:
            if A.resolve_syscall(A.Arch.NATIVE, name) < 0:
                report['skipped'].append(name)  # newer than this libseccomp, or not on this arch: systemd skips it too
                return
            die(f'a seccomp rule for {name} {args}: {e}')

    EPERM = A.ERRNO(errno.EPERM)
    filters = []
    if spec.get('addressFamilies'):
        af = spec['addressFamilies']
        f = new(A.ALLOW)
        deny = A.ERRNO(errno.EAFNOSUPPORT)
        if af['allow']:
            top = max(af['families'] + [0])
            rule(f, deny, 'socket', A.Arg(0, A.GT, top))
            for n in range(top):
                if n not in af['families']:
                    rule(f, deny, 'socket', A.Arg(0, A.EQ, n))
        else:
            for n in af['families']:
                rule(f, deny, 'socket', A.Arg(0, A.EQ, n))
        filters.append(('RestrictAddressFamilies=', f))
    if spec.get('memoryDenyWriteExecute'):
        f = new(A.ALLOW)
        W, X, SHM_EXEC = 0x2, 0x4, 0o100000
        rule(f, EPERM, 'mmap', A.Arg(2, A.MASKED_EQ, W | X, W | X))
        rule(f, EPERM, 'mprotect', A.Arg(2, A.MASKED_EQ, X, X))
        rule(f, EPERM, 'pkey_mprotect', A.Arg(2, A.MASKED_EQ, X, X))
        rule(f, EPERM, 'shmat', A.Arg(2, A.MASKED_EQ, SHM_EXEC, SHM_EXEC))
        filters.append(('MemoryDenyWriteExecute=', f))
    if spec.get('restrictRealtime'):
        f = new(A.ALLOW)
        # SCHED_OTHER 0, BATCH 3, IDLE 5 stay; FIFO, RR, DEADLINE and anything with a flag or above go.
        rule(f, EPERM, 'sched_setscheduler', A.Arg(1, A.GT, 5))
        for p in (1, 2, 4):
            rule(f, EPERM, 'sched_setscheduler', A.Arg(1, A.EQ, p))
        rule(f, EPERM, 'sched_setattr')
        filters.append(('RestrictRealtime=', f))
    if spec.get('restrictSuidSgid'):
        f = new(A.ALLOW)
        O_CREAT = 0o100
        for bit in (0o4000, 0o2000):
            for name, i in [('chmod', 1), ('fchmod', 1), ('fchmodat', 2), ('mkdir', 1), ('mkdirat', 2),
                            ('mknod', 1), ('mknodat', 2), ('creat', 1)]:
                rule(f, EPERM, name, A.Arg(i, A.MASKED_EQ, bit, bit))
            rule(f, EPERM, 'open', A.Arg(1, A.MASKED_EQ, O_CREAT, O_CREAT), A.Arg(2, A.MASKED_EQ, bit, bit))
            rule(f, EPERM, 'openat', A.Arg(2, A.MASKED_EQ, O_CREAT, O_CREAT), A.Arg(3, A.MASKED_EQ, bit, bit))
        filters.append(('RestrictSUIDSGID=', f))
    if spec.get('lockPersonality'):
        f = new(A.ALLOW)
        libc.personality.restype = ctypes.c_int
        current = libc.personality(ctypes.c_ulong(0xffffffff))
        rule(f, EPERM, 'personality', A.Arg(0, A.NE, current))
        filters.append(('LockPersonality=', f))
    if spec.get('namespaces') is not None:
        allowed = spec['namespaces']
        blocked = [v for k, v in CLONE.items() if k not in allowed] + ([0x80] if 'time' not in allowed else [])
        if blocked:
            f = new(A.ALLOW)
            # clone3 passes its flags in a struct a filter cannot read: ENOSYS sends libc back to clone.
            rule(f, A.ERRNO(errno.ENOSYS), 'clone3')
            if not allowed:
                rule(f, EPERM, 'setns')
            else:
                rule(f, EPERM, 'setns', A.Arg(1, A.EQ, 0))
            for flag in blocked:
                rule(f, EPERM, 'unshare', A.Arg(0, A.MASKED_EQ, flag, flag))
                rule(f, EPERM, 'clone', A.Arg(0, A.MASKED_EQ, flag, flag))
                if allowed:
                    rule(f, EPERM, 'setns', A.Arg(1, A.MASKED_EQ, flag, flag))
            filters.append(('RestrictNamespaces=', f))
    for group in spec.get('deny', []):
        f = new(A.ALLOW)
        for name in group['syscalls']:
            rule(f, EPERM, name)
        filters.append((group['why'], f))
    sf = spec.get('filter')
    if sf:
        err = A.ERRNO(sf['errno']) if sf.get('errno') is not None else A.KILL_PROCESS
        f = new(err if sf['allow'] else A.ALLOW)
        for entry in sf['syscalls']:
            if sf['allow']:
                rule(f, A.ALLOW, entry['name'])
            else:
                rule(f, A.ERRNO(entry['errno']) if entry.get('errno') is not None else err, entry['name'])
        filters.append(('SystemCallFilter=', f))
    elif spec['nativeOnly']:
        filters.append(('SystemCallArchitectures=', new(A.ALLOW)))  # only the native arch: others are killed
    # The allow-list goes last: loading a filter needs seccomp() and prctl(), which it may refuse.
    for why, f in filters:
        try:
            f.load()
        except Exception as e:
            die(f'{why}: loading the seccomp filter: {e}')
        report['done'].append(f'seccomp {why}')


def main():
    with open(sys.argv[1]) as f:
        plan = json.load(f)
    argv = sys.argv[3:] if sys.argv[2] == '--' else sys.argv[2:]
    # Opened before the mounts hide where it lies (PrivateTmp=, ProtectHome=).
    out = open(plan['report'], 'w') if plan.get('report') else None
    for d in plan.get('mkdirs', []):
        os.makedirs(d['path'], mode=d['mode'], exist_ok=True)
    if plan.get('mounts'):
        apply_mounts(plan)
        report['done'].append('mount namespace')
    flags = 0
    for ns in plan.get('unshare', []):
        flags |= CLONE[ns]
    if flags:
        check(libc.unshare(flags), f'unshare({plan["unshare"]})')
    if 'net' in plan.get('unshare', []):
        os.system('ip link set lo up 2>/dev/null')
    if plan.get('privateUsers'):
        private_users(plan)
        report['done'].append('user namespace')
    for name, value in plan.get('rlimits', {}).items():
        resource.setrlimit(getattr(resource, f'RLIMIT_{name.upper()}'), (value, value))
    if plan.get('keyring') in ('private', 'shared'):
        if libc.syscall(SYS_KEYCTL, KEYCTL_JOIN_SESSION_KEYRING, None) < 0:
            die(f'KeyringMode=: a new session keyring: {os.strerror(ctypes.get_errno())}')
    if plan.get('umask') is not None:
        os.umask(plan['umask'])
    user = plan.get('user')
    if user:
        os.setgroups(user.get('groups', []))
        os.setresgid(user['gid'], user['gid'], user['gid'])
        os.setresuid(user['uid'], user['uid'], user['uid'])
    drop_caps(plan)
    if plan.get('noNewPrivileges'):
        check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 'PR_SET_NO_NEW_PRIVS')
    if plan.get('chdir'):
        os.chdir(plan['chdir'])
    seccomp_filters(plan)
    if out is not None:
        json.dump(report, out)
        out.close()
    env = plan.get('env')
    try:
        os.execvpe(argv[0], argv, env if env is not None else os.environ)
    except OSError as e:
        die(f'exec {argv[0]}: {e}')


main()
