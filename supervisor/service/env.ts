// What a service manager hands the supervisor in its environment: the notify socket,
// the watchdog, socket activation; and, from `outheis start --detach`, the socket its
// waiting parent listens on. Taken out of process.env at start, before anything is
// spawned, so that no child (bubblewrap, setpriv, an agent, the doctor's probe) can
// inherit them: an agent holding NOTIFY_SOCKET could speak for the whole service.
// The config refuses them as agent variables too (policies/manifest.ts).
import { SERVICE_MANAGER_ENV } from '../../policies/manifest.js';

/** Set by `outheis start --detach` for its child: where to say READY (see cli/detach.ts). */
export const DETACH_SOCKET_ENV = 'OUTHEIS_DETACH_SOCKET';

export interface ServiceEnv {
  /** sd_notify's socket: a path, or "@name" for an abstract one. */
  notifySocket: string | undefined;
  /** Ping at half of this; undefined when systemd runs no watchdog for us, or it is another process's. */
  watchdogUsec: number | undefined;
  /** WATCHDOG_USEC was set but WATCHDOG_PID named another process: why there is no ping. */
  watchdogNotOurs: number | undefined;
  /** Socket activation was offered; outheis listens on its own socket, so it is only reported. */
  listenFds: string | undefined;
  detachSocket: string | undefined;
}

/** Read the service variables and delete them (NOTIFY_SOCKET, every WATCHDOG_* and LISTEN_*, ours) from `env`. */
export function takeServiceEnv(env: NodeJS.ProcessEnv = process.env, pid = process.pid): ServiceEnv {
  const get = (name: string) => {
    const v = env[name];
    return v === undefined || v === '' ? undefined : v;
  };
  const usec = Number(get('WATCHDOG_USEC'));
  const watchdogPid = get('WATCHDOG_PID') === undefined ? undefined : Number(get('WATCHDOG_PID'));
  const ours = watchdogPid === undefined || watchdogPid === pid;
  const taken: ServiceEnv = {
    notifySocket: get('NOTIFY_SOCKET'),
    watchdogUsec: Number.isSafeInteger(usec) && usec > 0 && ours ? usec : undefined,
    watchdogNotOurs: Number.isSafeInteger(usec) && usec > 0 && !ours ? watchdogPid : undefined,
    listenFds: get('LISTEN_FDS'),
    detachSocket: get(DETACH_SOCKET_ENV),
  };
  for (const name of Object.keys(env)) {
    if (SERVICE_MANAGER_ENV.test(name) || name === DETACH_SOCKET_ENV) delete env[name];
  }
  return taken;
}
