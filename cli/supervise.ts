// The supervisor in the foreground: what `outheis start` runs, for systemd or a
// terminal. Loaded only by `start`, so that the other verbs stay light.
import { createLogger } from '../logs/logger.js';
import type { Config } from '../supervisor/config/index.js';
import { closeInheritedFds } from '../supervisor/fds.js';
import { Supervisor } from '../supervisor/supervisor.js';

export async function supervise(cfg: Config): Promise<never> {
  const log = createLogger();
  const closed = closeInheritedFds();
  if (closed.length) log.warn({ fds: closed }, 'closed inherited file descriptors that lacked close-on-exec');
  const sup = new Supervisor(cfg, { log });
  let stopping = false;
  // SIGHUP too: a closed terminal must not kill the supervisor without stopping its agents.
  const onSignal = (sig: NodeJS.Signals) => {
    log.info({ signal: sig }, stopping ? 'already stopping: each agent gets its shutdown budget' : 'stopping on signal');
    stopping = true;
    void sup.halt(0);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  // A bug of ours must not leave agents running unsupervised: stop them, then exit non-zero.
  process.on('uncaughtException', (err) => {
    log.fatal({ err: err.stack ?? String(err) }, 'supervisor bug: stopping all agents');
    void sup.halt(1);
  });
  sup.start();
  const code = await sup.done;
  await new Promise<void>((resolve) => log.flush(() => resolve()));
  process.exit(code);
}
