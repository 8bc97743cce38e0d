import type { CommandModule } from 'yargs';
import { createLogger } from '../../logs/logger.js';
import { closeInheritedFds } from '../../supervisor/fds.js';
import { Supervisor } from '../../supervisor/supervisor.js';
import { readConfig } from '../config-arg.js';

interface Args { config?: string }

export const start: CommandModule<object, Args> = {
  command: 'start',
  describe: 'run the supervisor in the foreground (for systemd, or a terminal)',
  handler: async (argv) => {
    const cfg = readConfig(argv.config);
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
  },
};
