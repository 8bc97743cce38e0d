// The supervisor process: what `outheis start` runs in the foreground, for systemd
// or a terminal. main() is its start-up checklist, top to bottom, one step a line;
// the functions below it say how each step is done.
import { Journal } from '../logs/journal/journal.js';
import { AgentOutput } from '../logs/agent-output.js';
import { LogFiles, SUPERVISOR_LOG } from '../logs/log-files.js';
import { consoleDestination, createTeeLogger, startupConsole, stdoutIsJournal, type ConsoleDestination, type Logger } from '../logs/logger.js';
import { createRenderer } from '../logs/render.js';
import { planIsolation, type IsolationPlans } from '../policies/isolation.js';
import { recheckPaths, resolveReal, type Config, type ConfigIssue } from './config/index.js';
import { controlHandler } from './control/handlers.js';
import { ControlServer } from './control/server.js';
import { acquirePidfile, prepareStateDir, releasePidfile, stateFiles, type StateFiles } from './control/state-dir.js';
import { closeInheritedFds } from '../policies/fds.js';
import { planService, takeServiceEnv, tellServiceManager } from './service/index.js';
import { Supervisor } from './supervisor.js';

export interface MainOptions {
  /** Start agents even where this machine cannot apply every layer their manifests ask for. */
  allowWeakerIsolation?: boolean;
  /** Colour the console, when it is a terminal (the CLI's decision: NO_COLOR, FORCE_COLOR, TERM). */
  color?: boolean;
  /** What `check` would warn about (code in a home directory, credentials beside it): logged at start too, where an operator under systemd sees it. */
  warnings?: ConfigIssue[];
}

/** How often lost log bytes (full disk, a reader far behind) are reported. */
const LOSS_REPORT_MS = 5000;

/** Runs until the supervisor stops, then exits the process with its code. The config is loaded and preflighted (as `outheis check` does). */
export async function main(cfg: Config, opts: MainOptions = {}): Promise<never> {
  const closedFds = closeInheritedFds(); // no fd leaks into agents beyond the channel
  const service = planService(takeServiceEnv()); // NOTIFY_SOCKET, WATCHDOG_*, LISTEN_* out of the environment before anything is spawned
  // By its real path, resolved now: a link on the way to it is followed once, here, after the config's checks.
  const files = stateFiles(resolveReal(cfg.stateDir).real);
  const fixed = prepareStateDir(files.dir); // ours, 0700
  const { stale } = acquirePidfile(files); // one supervisor per state directory (throws AlreadyRunning)
  const isolation = await unlockOnError(files, () => planIsolation({ ...cfg, stateDir: files.dir }, { allowWeaker: opts.allowWeakerIsolation === true }));
  await unlockOnError(files, () => recheckPaths(cfg)); // the domains exist now: their real paths, checked again
  const logs = openLogs(cfg, files, opts.color === true, service.env.detachSocket !== undefined);
  reportStartUp(logs.log, { closedFds, fixed, isolation, stale, files });
  for (const w of opts.warnings ?? []) logs.log.warn({ key: w.path }, `config warning: ${w.message}`);
  // Failed writes are told to the supervisor; only it writes, so it exists by then.
  const journal = await unlockOnError(files, () => openJournal(cfg, files, (err) => sup.noteFailed(err)));
  const output = new AgentOutput(logs.files, logs.console);
  const sup = new Supervisor(cfg, { log: logs.log, isolation, journal, output: (agent, stream) => output.sink(agent, stream), allowWeakerIsolation: opts.allowWeakerIsolation });
  const lossReports = reportLostOutput(output, logs);
  const control = await unlockOnError(files, () => listenForControl(files, sup, logs.log));
  stopOnSignals(sup, logs.log);
  const manager = tellServiceManager(sup, service, { log: logs.log, journalStuckMs: () => journal.writer.oldestUncommittedMs(), ready: logs.ready }); // systemd, or start --detach
  await sup.joinCluster(); // with `cluster:` only: loads NATS, connects in the background
  sup.start(); // what the journal owes goes back into mailboxes, then the agents start
  const code = await sup.done;
  await manager.close(); // STOPPING=1 is out before the process goes
  for (const err of isolation.release()) logs.log.error({ err }, 'could not take back an ACL granted at start');
  clearInterval(lossReports);
  await control.close();
  await journal.close().catch((err: Error) => logs.log.error({ err: err.message }, 'closing the journal failed'));
  releasePidfile(files);
  await new Promise<void>((resolve) => logs.log.flush(() => resolve()));
  await logs.files.close();
  process.exit(code);
}

/** A step that fails before the agents start leaves no lock behind. */
async function unlockOnError<T>(files: StateFiles, step: () => T | Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    releasePidfile(files);
    throw err;
  }
}

interface Logs {
  log: Logger;
  /** Where agents' lines are shown besides their files. */
  console: ConsoleDestination;
  files: LogFiles;
  /** The supervisor is ready: a detached one's console closes. */
  ready: () => void;
}

/** A detached supervisor's console takes no agent lines: their files have them. */
const NO_CONSOLE: ConsoleDestination = { backlog: 0, write: () => undefined };

/**
 * The console and supervisor.log for the supervisor's own records, and one file per
 * agent. Detached (`start --detach`), stdout is a file beside supervisor.log: only
 * errors until ready go there (logs/logger.ts startupConsole).
 */
function openLogs(cfg: Config, files: StateFiles, color: boolean, detached: boolean): Logs {
  const startup = detached ? startupConsole(consoleDestination()) : undefined;
  const console = startup ? NO_CONSOLE : consoleSink(color);
  let log: Logger | undefined;
  const logFiles = new LogFiles(files.logs, {
    maxSize: cfg.logs.maxSize,
    keep: cfg.logs.keep,
    // Deferred: the failing file may be supervisor.log itself, mid-write.
    failed: (name, err) => setImmediate(() => log?.error({ file: `${name}.log`, code: err.code, err: err.message }, 'cannot write a log file: its lines are dropped until it can be written again')),
  });
  log = createTeeLogger([startup ? { stream: startup.destination, level: 'error' } : console, logFiles.file(SUPERVISOR_LOG)]);
  return { log, console, files: logFiles, ready: () => startup?.close() };
}

/** The console: JSON lines for journald (each with its syslog priority) and pipes, rendered lines on a terminal. */
function consoleSink(color: boolean): ConsoleDestination {
  return consoleDestination(process.stdout.isTTY ? { render: createRenderer({ color }) } : { priorities: stdoutIsJournal() });
}

/** What the steps before the logs found, said once there is a log. */
function reportStartUp(log: Logger, found: { closedFds: number[]; fixed: string[]; isolation: IsolationPlans; stale: number | undefined; files: StateFiles }): void {
  const { closedFds, fixed, isolation, stale, files } = found;
  if (closedFds.length) log.warn({ fds: closedFds }, 'closed inherited file descriptors that lacked close-on-exec');
  for (const note of fixed) log.warn({ stateDir: files.dir }, note);
  for (const [name, plan] of isolation.plans) {
    if (plan.weaker) log.error({ agent: name, missing: plan.missing, layers: plan.layers }, 'WEAKER ISOLATION: this agent runs with less than its manifest asks (--allow-weaker-isolation)');
  }
  for (const g of isolation.domains.grants) log.warn({ agent: g.agent, path: g.path, uid: g.uid, acl: g.perms, key: g.key }, 'ACL GRANTED: this path belongs to someone else; the agent\'s uid gets an ACL until stop (owner and mode unchanged)');
  for (const c of isolation.domains.created) log.info({ agent: c.agent, path: c.path, uid: c.uid }, 'created a domain for its agent');
  for (const err of isolation.domains.stale) log.error({ err }, 'could not take back an ACL a previous supervisor granted');
  log.info({ root: isolation.machine.root, namespaces: isolation.machine.namespaces, permission: isolation.machine.permissionFlag }, 'isolation planned');
  const cg = isolation.cgroups;
  if (cg.driver) log.info({ cgroups: cg.driver.kind, where: cg.driver.where, stale: isolation.staleGroups }, 'cgroups: one per agent');
  else log.error({ why: cg.why }, 'WEAKER ISOLATION: no cgroups: CPU priority is nice, limits.cpu and limits.memory only sampled');
  if (stale !== undefined) log.warn({ pid: stale, pidfile: files.pidfile }, 'replaced the stale pidfile of a supervisor that did not shut down cleanly');
}

/** Recovered (a torn tail cut, damage moved aside) and folded before any agent starts. */
async function openJournal(cfg: Config, files: StateFiles, noteFailed: (err: Error) => void): Promise<Journal> {
  try {
    return await Journal.open(files.journal, {
      fsync: cfg.journal.fsync, intervalMs: cfg.journal.interval, segmentBytes: cfg.journal.segmentSize,
      retainMs: cfg.journal.retain, maxBytes: cfg.journal.maxSize, noteFailed,
    });
  } catch (err) {
    throw new Error(`cannot open the journal in ${files.journal}: ${(err as Error).message}`, { cause: err });
  }
}

/** Agent output that could not be kept (a full disk) or shown (a console far behind), reported now and then. */
function reportLostOutput(output: AgentOutput, logs: Logs): NodeJS.Timeout {
  return setInterval(() => {
    for (const [file, bytes] of logs.files.takeDropped()) logs.log.warn({ file: `${file}.log`, bytes }, 'log output lost');
    const skipped = output.takeConsoleDropped();
    if (skipped) logs.log.warn({ lines: skipped }, 'agent lines not shown on the console, which is behind: outheis logs has them');
  }, LOSS_REPORT_MS).unref();
}

/** The control socket, once the lock is ours (so a socket left behind is stale, and replaced). */
async function listenForControl(files: StateFiles, sup: Supervisor, log: Logger): Promise<ControlServer> {
  const control = new ControlServer(files.socket, controlHandler(sup), log);
  const { replacedStale } = await control.listen();
  if (replacedStale) log.warn({ socket: files.socket }, 'replaced a stale control socket');
  log.info({ socket: files.socket, pidfile: files.pidfile }, 'control socket listening');
  return control;
}

function stopOnSignals(sup: Supervisor, log: Logger): void {
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals) => {
    log.info({ signal: sig }, stopping ? 'already stopping: each agent gets its shutdown budget' : 'stopping on signal');
    stopping = true;
    void sup.halt(0);
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, onSignal);
  // SIGHUP reloads, as `systemctl reload` and `outheis reload` do (the supervisor logs the outcome). A closed
  // terminal sends it too: it now reloads an unchanged config (nothing restarts) instead of stopping everything.
  process.on('SIGHUP', () => {
    log.info({ signal: 'SIGHUP' }, 'reloading the config on signal');
    sup.reload().catch((err: Error) => log.warn({ signal: 'SIGHUP', err: err.message }, 'reload not started'));
  });
  // A bug of ours must not leave agents running unsupervised: stop them, then exit non-zero.
  process.on('uncaughtException', (err) => {
    log.fatal({ err: err.stack ?? String(err) }, 'supervisor bug: stopping all agents');
    void sup.halt(1);
  });
}
