// The supervisor in the foreground: what `outheis start` runs, for systemd or a
// terminal. Loaded only by `start`, so that the other verbs stay light.
// Start-up reads as a list: fds, state directory, lock, logs, control socket, agents.
import type { DestinationStream } from 'pino';
import { agentRecord, LogFiles, SUPERVISOR_LOG } from '../logs/log-files.js';
import { consoleDestination, createTeeLogger, type Logger } from '../logs/logger.js';
import { createRenderer } from '../logs/render.js';
import type { Config } from '../supervisor/config/index.js';
import { controlHandler } from '../supervisor/control/handlers.js';
import { ControlServer } from '../supervisor/control/server.js';
import { acquirePidfile, prepareStateDir, releasePidfile, stateFiles } from '../supervisor/control/state-dir.js';
import { closeInheritedFds } from '../supervisor/fds.js';
import { Supervisor } from '../supervisor/supervisor.js';
import { planIsolation, type IsolationPlans } from '../policies/isolation.js';
import { Journal } from '../logs/journal/journal.js';
import { colorEnabled } from './render/color.js';

/** How often lost log bytes (full disk, a reader far behind) are reported. */
const LOSS_REPORT_MS = 5000;

/** The console: JSON lines for journald and pipes, rendered lines on a terminal. */
function consoleSink(): DestinationStream {
  const out = consoleDestination();
  if (!process.stdout.isTTY) return out;
  const render = createRenderer({ color: colorEnabled(process.stdout) });
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) if (line) out.write(render(line) + '\n');
    },
  };
}

export async function supervise(cfg: Config, opts: { allowWeakerIsolation?: boolean } = {}): Promise<never> {
  // 1. no fd leaks into agents beyond the channel
  const closedFds = closeInheritedFds();
  // 2. the state directory: ours, 0700; 3. one supervisor per state directory (throws AlreadyRunning)
  const files = stateFiles(cfg.state_dir);
  const fixed = prepareStateDir(files.dir);
  const { stale } = acquirePidfile(files);
  // 4. every agent's manifest planned against what this machine enforces (throws IsolationError: secure by default)
  let isolation: IsolationPlans;
  try {
    isolation = planIsolation(cfg, { allowWeaker: opts.allowWeakerIsolation === true });
  } catch (err) {
    releasePidfile(files);
    throw err;
  }
  // 5. logs: console + supervisor.log, and one file per agent
  const console = consoleSink();
  let log: Logger | undefined;
  const logFiles = new LogFiles(files.logs, {
    maxSize: cfg.logs.max_size,
    keep: cfg.logs.keep,
    // Deferred: the failing file may be supervisor.log itself, mid-write.
    failed: (name, err) => setImmediate(() => log?.error({ file: `${name}.log`, code: err.code, err: err.message }, 'cannot write a log file: its lines are dropped until it can be written again')),
  });
  log = createTeeLogger([console, logFiles.file(SUPERVISOR_LOG)]);
  if (closedFds.length) log.warn({ fds: closedFds }, 'closed inherited file descriptors that lacked close-on-exec');
  for (const note of fixed) log.warn({ stateDir: files.dir }, note);
  for (const [name, plan] of isolation.plans) {
    if (plan.weaker) log.error({ agent: name, missing: plan.missing, layers: plan.layers }, 'WEAKER ISOLATION: this agent runs with less than its manifest asks (--allow-weaker-isolation)');
  }
  log.info({ root: isolation.machine.root, namespaces: isolation.machine.namespaces, permission: isolation.machine.permissionFlag }, 'isolation planned');
  if (stale !== undefined) log.warn({ pid: stale, pidfile: files.pidfile }, 'replaced the stale pidfile of a supervisor that did not shut down cleanly');

  // 6. the journal: recovered (a torn tail cut, damage moved aside) and folded before any agent starts
  let sup: Supervisor | undefined;
  let journal: Journal;
  try {
    journal = await Journal.open(files.journal, {
      fsync: cfg.journal.fsync, intervalMs: cfg.journal.interval, segmentBytes: cfg.journal.segment_size,
      retainMs: cfg.journal.retain, maxBytes: cfg.journal.max_size,
      noteFailed: (err) => sup?.noteFailed(err),
    });
  } catch (err) {
    releasePidfile(files);
    throw new Error(`cannot open the journal in ${files.journal}: ${(err as Error).message}`, { cause: err });
  }

  sup = new Supervisor(cfg, { log, isolation, journal });
  sup.on('output', (agent: string, stream: 'stdout' | 'stderr', line: string, truncated: boolean) => {
    const rec = agentRecord(agent, stream, line, truncated);
    logFiles.file(agent).write(rec);
    console.write(rec);
  });
  const lossTimer = setInterval(() => {
    for (const [file, bytes] of logFiles.takeDropped()) log!.warn({ file: `${file}.log`, bytes }, 'log output lost');
  }, LOSS_REPORT_MS).unref();

  // 7. the control socket, once the lock is ours (a stale socket is replaced)
  const control = new ControlServer(files.socket, controlHandler(sup), log);
  try {
    const { replacedStale } = await control.listen();
    if (replacedStale) log.warn({ socket: files.socket }, 'replaced a stale control socket');
  } catch (err) {
    releasePidfile(files);
    throw err;
  }
  log.info({ socket: files.socket, pidfile: files.pidfile }, 'control socket listening');

  let stopping = false;
  // SIGHUP too: a closed terminal must not kill the supervisor without stopping its agents.
  const onSignal = (sig: NodeJS.Signals) => {
    log!.info({ signal: sig }, stopping ? 'already stopping: each agent gets its shutdown budget' : 'stopping on signal');
    stopping = true;
    void sup!.halt(0);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  // A bug of ours must not leave agents running unsupervised: stop them, then exit non-zero.
  process.on('uncaughtException', (err) => {
    log!.fatal({ err: err.stack ?? String(err) }, 'supervisor bug: stopping all agents');
    void sup!.halt(1);
  });

  // 8. the agents
  sup.start();
  const code = await sup.done;
  clearInterval(lossTimer);
  await control.close();
  await journal.close().catch((err: Error) => log!.error({ err: err.message }, 'closing the journal failed'));
  releasePidfile(files);
  await new Promise<void>((resolve) => log!.flush(() => resolve()));
  await logFiles.close();
  process.exit(code);
}
