// issue 12, item 1: the notify protocol, against a manager played by python3 with
// SO_PASSCRED (helpers/notify-manager.py), which sees each message's sender pid as
// the kernel stamped it. A real `outheis start`, as systemd runs it: NOTIFY_SOCKET,
// WATCHDOG_USEC, and WATCHDOG_PID set to its own pid.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { agentOf, startDaemon, stop, type Daemon } from './helpers/daemon.js';
import { CLI, fixture, startSupervisor, tempDir, until } from './helpers/harness.js';
import { startManager, withWatchdogPid, type Manager, type NotifyMessage } from './helpers/notify-manager.js';
import { SERVICE_MANAGER_ENV } from '../policies/manifest.js';
import { ENV } from '../protocol/constants.js';
import { createLogger } from '../logs/logger.js';
import { JournalWriter } from '../logs/journal/writer.js';
import { findSystemdNotify, Notifier, type Transport } from '../supervisor/service/notify.js';
import { summary, unsettled } from '../supervisor/service/readiness.js';
import { tellServiceManager, type ServicePlan } from '../supervisor/service/index.js';
import type { AgentStatus } from '../supervisor/supervisor.js';

const WATCHDOG_USEC = 1_000_000;
const PING_MS = WATCHDOG_USEC / 2000;
const isPing = (m: NotifyMessage) => m.fields.WATCHDOG === '1';
const isReady = (m: NotifyMessage) => m.fields.READY === '1';
/** The supervisor's `"msg":"ready"` record for an agent: its time. */
function readyTime(d: Daemon, agent: string): number {
  const line = d.out().split('\n').find((l) => l.includes('"msg":"ready"') && l.includes(`"agent":"${agent}"`));
  assert.ok(line, `no ready record for ${agent}:\n${d.out()}`);
  return (JSON.parse(line) as { time: number }).time;
}
const serviceEnv = (mgr: Manager, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ ...process.env, NOTIFY_SOCKET: mgr.path, WATCHDOG_USEC: String(WATCHDOG_USEC), ...extra });

describe('outheis start under a notify socket, as systemd runs it', () => {
  let mgr: Manager;
  let d: Daemon;
  let dir: string;
  before(async () => {
    dir = tempDir('outheis-notify-');
    chmodSync(dir, 0o755); // the probe's own uid reaches its domain
    mgr = await startManager();
    d = await startDaemon([
      'agents:',
      `  fast: { run: ${fixture('notify-probe.js')} }`,
      `  slow: { run: ${fixture('notify-probe.js')}, args: [--ready-after=1500] }`,
      `  probe: { run: ${fixture('notify-probe.js')}, args: [--socket=${mgr.path}, --out=${dir}/probe/out.json], pledge: [spawn], owns: [probe], unveil: { probe: rw }, limits: { nproc: 64 } }`,
    ], { dir, env: serviceEnv(mgr), wrap: withWatchdogPid });
  });
  after(async () => {
    await stop(d);
    mgr.close();
  });

  test('READY=1 arrives once the slow agent is ready, stamped with the supervisor\'s pid; STATUS= says where it is', async () => {
    const ready = await mgr.waitFor('READY=1', isReady);
    const slowReady = readyTime(d, 'slow');
    assert.ok(ready.at >= slowReady, `READY=1 at ${ready.at}, before the slow agent was ready (${slowReady})`);
    assert.equal(ready.pid, d.proc.pid, 'the kernel stamped the supervisor\'s pid: NotifyAccess=main holds');
    assert.equal(ready.fields.MAINPID, String(d.proc.pid));
    assert.equal(mgr.messages.filter(isReady).length, 1, 'one READY=1');
    const early = mgr.messages.filter((m) => m.at < slowReady && m.fields.STATUS);
    assert.ok(early.some((m) => /^starting… 3 agents: .*starting/.test(m.fields.STATUS!)), `a starting status before READY: ${early.map((m) => m.fields.STATUS).join(' | ')}`);
    await mgr.waitFor('the status of three running agents', (m) => m.fields.STATUS === '3 agents: 3 running; 0 restarts');
    assert.equal(agentOf(d, 'slow').state, 'running');
  });

  test('WATCHDOG=1 keeps coming, stops while the supervisor is SIGSTOPped, and resumes after SIGCONT', async () => {
    // They keep coming: two more after the first, awaited (how fast is the machine's business, not the test's).
    const first = await mgr.waitFor('a first ping', isPing);
    const second = await mgr.waitFor('a second ping', (m) => isPing(m) && m.at > first.at);
    await mgr.waitFor('a third ping', (m) => isPing(m) && m.at > second.at);
    const stoppedAt = Date.now();
    process.kill(d.proc.pid!, 'SIGSTOP');
    let contAt: number;
    try {
      await mgr.waitUntil(stoppedAt + 5 * PING_MS); // longer than systemd's whole interval
    } finally {
      contAt = Date.now();
      process.kill(d.proc.pid!, 'SIGCONT');
    }
    // One ping may have been on its way when it stopped: the window starts a ping later.
    const during = mgr.messages.filter((m) => isPing(m) && m.at > stoppedAt + PING_MS && m.at < contAt);
    assert.deepEqual(during.map((m) => m.at - stoppedAt), [], 'no ping while the supervisor is stopped: systemd would restart it');
    const resumed = await mgr.waitFor('a ping after SIGCONT', (m) => isPing(m) && m.at > contAt);
    assert.equal(resumed.pid, d.proc.pid);
    assert.equal(agentOf(d, 'fast').state, 'running', 'the supervisor runs on');
  });

  test('an agent that runs systemd-notify itself reaches nothing, and has none of the variables', async () => {
    const out = join(dir, 'probe/out.json');
    const report = await until(`${out} from the probe agent`, () => (existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) as { env: Record<string, string>; tries: { args: string[]; status: number | null }[]; socketVisible: boolean } : undefined));
    assert.equal(report.tries.length, 3, 'it tried');
    assert.equal(report.socketVisible, false, 'the socket is not in its sandbox');
    assert.deepEqual(Object.keys(report.env).filter((k) => SERVICE_MANAGER_ENV.test(k) || k === 'OUTHEIS_DETACH_SOCKET'), []);
    // On the host: the agent's process environment, as the kernel keeps it.
    const pid = agentOf(d, 'probe').pid!;
    const environ = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').map((e) => e.slice(0, e.indexOf('=')));
    assert.ok(environ.includes(ENV.name), `the agent's own environ (${environ.join(' ')})`);
    assert.deepEqual(environ.filter((k) => SERVICE_MANAGER_ENV.test(k)), [], `agent environ: ${environ.join(' ')}`);
    await mgr.waitFor('a ping after the agent tried', (m) => isPing(m) && m.at > Date.now() - 50);
    const strangers = mgr.messages.filter((m) => m.pid !== d.proc.pid);
    assert.deepEqual(strangers, [], 'every message came from the supervisor');
  });

  test('SIGTERM gives STOPPING=1 from the supervisor, and it exits 0', async () => {
    const from = mgr.messages.length;
    d.kill('SIGTERM');
    const stopping = await mgr.waitFor('STOPPING=1', (m) => m.fields.STOPPING === '1', { from });
    assert.equal(stopping.pid, d.proc.pid);
    assert.match(stopping.fields.STATUS ?? '', /^stopping… /);
    assert.equal(await d.exited, 0);
  });
});

test('WATCHDOG_PID naming another process: READY=1 and STATUS=, but no ping', async (t) => {
  const mgr = await startManager();
  const d = await startDaemon(['agents:', `  a: { run: ${fixture('notify-probe.js')} }`], { env: serviceEnv(mgr, { WATCHDOG_PID: '1' }) });
  t.after(async () => {
    await stop(d);
    mgr.close();
  });
  const ready = await mgr.waitFor('READY=1', isReady);
  await mgr.waitUntil(ready.at + 4 * PING_MS);
  assert.ok(mgr.messages.some((m) => m.fields.STATUS), 'it does speak');
  assert.deepEqual(mgr.messages.filter(isPing), [], 'the watchdog is another process\'s');
  await d.printed(/WATCHDOG_PID names another process/);
});

// Until `reload` (the reload engineer's work) makes SIGHUP reload, SIGHUP stops the supervisor and this fails.
test('SIGHUP gives RELOADING=1 with MONOTONIC_USEC, then READY=1, and the supervisor runs on', async (t) => {
  const mgr = await startManager();
  const d = await startDaemon(['agents:', `  a: { run: ${fixture('notify-probe.js')} }`], { env: serviceEnv(mgr), wrap: withWatchdogPid });
  t.after(async () => {
    await stop(d);
    mgr.close();
  });
  await mgr.waitFor('READY=1', isReady);
  const from = mgr.messages.length;
  const sentAt = process.hrtime.bigint() / 1000n;
  d.kill('SIGHUP');
  const reloading = await mgr.waitFor('RELOADING=1', (m) => m.fields.RELOADING === '1', { from });
  const usec = BigInt(reloading.fields.MONOTONIC_USEC ?? '0');
  assert.ok(usec >= sentAt && usec <= process.hrtime.bigint() / 1000n, `MONOTONIC_USEC ${usec} is CLOCK_MONOTONIC after the signal (${sentAt})`);
  const ready = await mgr.waitFor('READY=1 after the reload', isReady, { from: mgr.messages.indexOf(reloading) + 1 });
  assert.equal(ready.pid, d.proc.pid);
  assert.equal(agentOf(d, 'a').state, 'running');
});

test('NOTIFY_SOCKET set and no systemd-notify to reach it: start is refused before it takes the state directory', () => {
  const dir = tempDir('outheis-notify-none-');
  const file = join(dir, 'outheis.yaml');
  writeFileSync(file, `agents:\n  a: { run: ${fixture('notify-probe.js')} }\n`);
  // A mount namespace where systemd-notify is /dev/null (not executable), on PATH and in /usr/bin and /bin alike.
  const r = spawnSync('unshare', ['-m', 'sh', '-c', 'mount --bind /dev/null "$(readlink -f /usr/bin/systemd-notify)" && exec "$@"', 'sh', process.execPath, CLI, 'start', '-c', file], {
    encoding: 'utf8', timeout: 30000, env: { ...process.env, NOTIFY_SOCKET: join(dir, 'nobody-listens.sock'), PATH: '/usr/bin:/bin' },
  });
  assert.equal(r.status, 1, `${r.stderr}${r.stdout}`);
  assert.match(r.stderr, /NOTIFY_SOCKET is set .* but systemd-notify is neither on PATH nor in \/usr\/bin or \/bin/);
  assert.equal(existsSync(join(dir, '.outheis/outheis.pid')), false, 'no lock taken');
});

describe('the notifier in process: the supervisor\'s events, the journal\'s health', () => {
  const plan = (path: string, watchdogUsec?: number): ServicePlan => ({
    env: { notifySocket: path, watchdogUsec, watchdogNotOurs: undefined, listenFds: undefined, detachSocket: undefined },
    notifyBin: findSystemdNotify(), asMain: true,
  });

  test('reloading, then reloaded (applied or refused), then halting: RELOADING=1 with MONOTONIC_USEC, READY=1 each time, STOPPING=1', async (t) => {
    const mgr = await startManager();
    t.after(() => mgr.close());
    const h = startSupervisor({ agents: { a: { run: fixture('notify-probe.js') } } });
    const link = tellServiceManager(h.sup, plan(mgr.path), { log: createLogger({ level: 'silent' }) });
    await mgr.waitFor('READY=1', isReady);
    for (const ok of [true, false]) {
      const from = mgr.messages.length;
      h.sup.emit('reloading');
      const reloading = await mgr.waitFor('RELOADING=1', (m) => m.fields.RELOADING === '1', { from });
      assert.match(reloading.fields.MONOTONIC_USEC ?? '', /^\d+$/);
      assert.match(reloading.fields.STATUS ?? JSON.stringify(mgr.messages.slice(from)), /^reloading… /);
      assert.equal(mgr.messages.slice(from).some(isReady), false, 'no READY=1 before the reload ended');
      h.sup.emit('reloaded', ok);
      const ready = await mgr.waitFor(`READY=1 after reloaded(${ok})`, isReady, { from });
      assert.ok(mgr.messages.indexOf(ready) > mgr.messages.indexOf(reloading), 'in order');
      assert.equal(ready.pid, process.pid);
    }
    const from = mgr.messages.length;
    await h.stop();
    await link.close();
    await mgr.waitFor('STOPPING=1', (m) => m.fields.STOPPING === '1', { from });
  });

  test('a journal write that does not return stops the pings; they resume once it does', async (t) => {
    const mgr = await startManager();
    t.after(() => mgr.close());
    let release: (() => void) | undefined;
    let hang = false;
    const writer = await JournalWriter.open(tempDir('outheis-notify-journal-'), {
      fsync: 'batch',
      fsyncFn: async () => { if (hang) await new Promise<void>((r) => (release = r)); },
    });
    const h = startSupervisor({ agents: { a: { run: fixture('notify-probe.js') } } });
    const usec = 400_000;
    const link = tellServiceManager(h.sup, plan(mgr.path, usec), { log: createLogger({ level: 'silent' }), journalStuckMs: () => writer.oldestUncommittedMs() });
    t.after(async () => { await h.stop(); await link.close(); });
    const first = await mgr.waitFor('a ping', isPing);
    await mgr.waitUntil(first.at + 3 * (usec / 2000));
    hang = true;
    const write = writer.append({ type: 'ack', agent: 'a', ids: [1] });
    await until('the write to be stuck for the watchdog interval', () => (writer.oldestUncommittedMs() > usec / 1000 ? true : undefined));
    const stuckAt = Date.now();
    await mgr.waitUntil(stuckAt + 4 * (usec / 2000));
    const during = mgr.messages.filter((m) => isPing(m) && m.at > stuckAt + usec / 2000);
    assert.deepEqual(during.map((m) => m.at - stuckAt), [], 'no ping while the journal is wedged');
    const releasedAt = Date.now();
    release!();
    await write;
    await mgr.waitFor('a ping once the journal writes', (m) => isPing(m) && m.at > releasedAt);
    assert.equal(writer.oldestUncommittedMs(), 0);
  });
});

describe('readiness and the notifier, unit by unit', () => {
  const agent = (name: string, state: AgentStatus['state'], restarts = 0) => ({ name, state, restarts }) as AgentStatus;

  test('summary: counts by state, then restarts', () => {
    assert.equal(summary([agent('a', 'running', 2), agent('b', 'running'), agent('c', 'backoff', 1)]), '3 agents: 2 running, 1 backoff; 3 restarts');
    assert.equal(summary([agent('a', 'failed', 1)]), '1 agent: 1 failed; 1 restart');
    assert.equal(summary([]), '0 agents; 0 restarts');
  });

  test('settled: running, failed, stopped by policy; not starting, backoff, stopping, or exited without the tree\'s decision', () => {
    const agents = [agent('run', 'running'), agent('fail', 'failed'), agent('done', 'stopped'), agent('up', 'starting'), agent('wait', 'backoff'), agent('down', 'stopping'), agent('crashed', 'stopped')];
    assert.deepEqual(unsettled(agents, new Set(['crashed'])), ['up', 'wait', 'down', 'crashed']);
    assert.deepEqual(unsettled(agents.slice(0, 3), new Set()), []);
  });

  test('one send at a time, in order; the latest status wins; a failing transport is logged once and the rest goes on', async () => {
    const sent: string[][] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    let fail = true;
    const slow: Transport = {
      name: 'slow', close: () => undefined,
      async send(msg) {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await new Promise((r) => setTimeout(r, 20));
        inFlight--;
        sent.push(msg);
      },
    };
    const broken: Transport = { name: 'broken', close: () => undefined, send: () => (fail ? Promise.reject(new Error('no such socket')) : Promise.resolve()) };
    const lines: string[] = [];
    const log = createLogger({ destination: { write: (l: string) => void lines.push(l) } as never });
    const n = new Notifier([slow, broken], log, 200);
    n.send('READY=1');
    for (let i = 0; i < 50; i++) n.setStatus(`status ${i}`);
    n.send('RELOADING=1');
    n.watchdog();
    n.watchdog();
    n.send('READY=1');
    await n.close();
    fail = false;
    assert.equal(maxInFlight, 1, 'never two at once');
    assert.deepEqual(sent.map((m) => m.filter((f) => !f.startsWith('STATUS=') && f !== 'WATCHDOG=1')), [['READY=1'], ['RELOADING=1'], ['READY=1']], 'events in order, each its own message');
    const statuses = sent.flat().filter((f) => f.startsWith('STATUS='));
    assert.deepEqual(statuses, ['STATUS=status 49'], 'only the latest status');
    assert.equal(sent.flat().filter((f) => f === 'WATCHDOG=1').length, 1, 'two pings not yet sent are one');
    assert.equal(lines.filter((l) => l.includes('cannot tell the service manager')).length, 1, 'logged once');
  });
});

test('the config refuses NOTIFY_SOCKET, WATCHDOG_* and LISTEN_* as an agent\'s env (passed or set) and in its env_file, with the key path', () => {
  const dir = tempDir('outheis-notify-env-');
  const envFile = join(dir, 'secrets.env');
  writeFileSync(envFile, 'API=1\nLISTEN_FDS=3\n', { mode: 0o600 });
  const check = (lines: string[]) => {
    const file = join(dir, 'outheis.yaml');
    writeFileSync(file, ['agents:', ...lines].join('\n') + '\n');
    const r = spawnSync(process.execPath, [CLI, 'check', '-c', file], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(r.status, 2, `${r.stderr}${r.stdout}`);
    return r.stderr;
  };
  const env = check([`  a: { run: ${fixture('notify-probe.js')}, env: [NOTIFY_SOCKET, WATCHDOG_USEC=1000000] }`]);
  assert.match(env, /agents\.a\.env\.0: NOTIFY_SOCKET is reserved: it is the service manager's word/);
  assert.match(env, /agents\.a\.env\.1: WATCHDOG_USEC is reserved/);
  const fromFile = check([`  b: { run: ${fixture('notify-probe.js')}, env_file: ${envFile} }`]);
  assert.match(fromFile, /agents\.b\.env_file: .*line 2: LISTEN_FDS is reserved/);
});
