// What the supervisor tells the service manager (systemd's notify protocol) and
// `outheis start --detach`: READY=1 once the agents have settled (readiness.ts), a
// one-line STATUS=, RELOADING=1 and READY=1 around a reload, STOPPING=1, and
// WATCHDOG=1 while the supervisor is healthy. How it is said is notify.ts.
//
// The watchdog ping is tied to the supervisor's own health: it is sent from a timer,
// so it stops when the event loop stops turning (a busy loop, SIGSTOP, a blocked
// synchronous call), and it is withheld while a journal write or fsync has been
// outstanding for longer than systemd's whole watchdog interval. systemd then kills
// and restarts a wedged supervisor (Restart=on-failure); its agents are in its cgroup.
import type { Logger } from '../../logs/logger.js';
import type { Supervisor } from '../supervisor.js';
import type { ServiceEnv } from './env.js';
import { canNamePid, findSystemdNotify, Notifier, ParentSocket, SEND_TIMEOUT_MS, SystemdNotify, type Transport } from './notify.js';
import { watchReadiness } from './readiness.js';

export { takeServiceEnv, type ServiceEnv } from './env.js';

/** Who listens, found before the supervisor takes its lock: a NOTIFY_SOCKET nobody can reach is refused then. */
export interface ServicePlan {
  env: ServiceEnv;
  /** systemd-notify's path, when NOTIFY_SOCKET is set. */
  notifyBin: string | undefined;
  /** We may stamp our own pid on the datagrams (root): NotifyAccess=main holds. */
  asMain: boolean;
}

export class ServiceError extends Error {}

export function planService(env: ServiceEnv): ServicePlan {
  const notifyBin = env.notifySocket === undefined ? undefined : findSystemdNotify();
  if (env.notifySocket !== undefined && notifyBin === undefined) {
    throw new ServiceError(`NOTIFY_SOCKET is set (a service manager waits for READY=1), but systemd-notify is neither on PATH nor in /usr/bin or /bin: install systemd's tools, or start outheis without Type=notify`);
  }
  return { env, notifyBin, asMain: canNamePid() };
}

export interface ServiceLink {
  /** Sends what is queued (STOPPING=1 included), within a bound. */
  close(): Promise<void>;
}

export interface ServiceOptions {
  log: Logger;
  /** How long the journal's oldest uncommitted append has waited (JournalWriter.oldestUncommittedMs). */
  journalStuckMs?: () => number;
  /** Called once, when the supervisor is first ready. */
  ready?: () => void;
}

/** Follow the supervisor and tell the service manager; a no-op when nobody listens. */
export function tellServiceManager(sup: Supervisor, plan: ServicePlan, opts: ServiceOptions): ServiceLink {
  const { env } = plan;
  const { log } = opts;
  const pingMs = env.watchdogUsec === undefined ? undefined : Math.max(1, Math.floor(env.watchdogUsec / 2000));
  const transports: Transport[] = [];
  if (env.notifySocket !== undefined && plan.notifyBin !== undefined) {
    // A hung helper must not hold up the next ping past systemd's patience.
    transports.push(new SystemdNotify(plan.notifyBin, env.notifySocket, plan.asMain, Math.min(SEND_TIMEOUT_MS, pingMs ?? SEND_TIMEOUT_MS)));
    log.info({ socket: env.notifySocket, helper: plan.notifyBin, watchdogMs: pingMs && pingMs * 2, sender: plan.asMain ? 'main pid (NotifyAccess=main)' : 'the helper\'s pid (needs NotifyAccess=all)' }, 'speaking systemd\'s notify protocol');
  }
  if (env.watchdogNotOurs !== undefined) log.info({ watchdogPid: env.watchdogNotOurs }, 'WATCHDOG_PID names another process: no watchdog pings from this one');
  if (env.listenFds !== undefined) log.warn({ listenFds: env.listenFds }, 'socket activation (LISTEN_FDS) is not used: outheis listens on its own control socket; the sockets were closed');
  if (env.detachSocket !== undefined) transports.push(new ParentSocket(env.detachSocket));
  if (!transports.length) return { close: () => Promise.resolve() };

  const notifier = new Notifier(transports, log);
  let firstReady = true;
  const unwatch = watchReadiness(sup, {
    ready: () => {
      notifier.send('READY=1');
      if (firstReady) opts.ready?.();
      firstReady = false;
    },
    // CLOCK_MONOTONIC: what systemd compares with the time it sent SIGHUP (process.hrtime is that clock on Linux).
    reloading: () => notifier.send('RELOADING=1', `MONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`),
    stopping: () => notifier.send('STOPPING=1'),
    status: (text) => notifier.setStatus(text),
  });
  const pings = pingMs === undefined || plan.notifyBin === undefined ? undefined : startPings(notifier, pingMs, opts);
  return {
    async close() {
      clearInterval(pings);
      unwatch();
      await notifier.close();
    },
  };
}

/** WATCHDOG=1 every `pingMs` (half of WATCHDOG_USEC) while the supervisor is healthy. */
function startPings(notifier: Notifier, pingMs: number, opts: ServiceOptions): NodeJS.Timeout {
  const limitMs = pingMs * 2;
  let withheld = false;
  return setInterval(() => {
    // The timer firing at all is the event loop turning; the journal is the other half.
    const stuck = opts.journalStuckMs?.() ?? 0;
    if (stuck > limitMs) {
      if (!withheld) opts.log.error({ outstandingMs: Math.round(stuck), watchdogMs: limitMs }, 'a journal write has not completed within the watchdog interval: withholding the watchdog ping (systemd restarts the supervisor if it stays stuck)');
      withheld = true;
      return;
    }
    if (withheld) opts.log.warn({ watchdogMs: limitMs }, 'the journal writes again: watchdog pings resume');
    withheld = false;
    notifier.watchdog();
  }, pingMs).unref();
}
