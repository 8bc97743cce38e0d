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
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      if (++signals > 1) {
        log.warn({ signal: sig }, 'second signal: stopping harder is not needed, still stopping');
        return;
      }
      log.info({ signal: sig }, 'stopping on signal');
      void sup.halt(0);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    sup.start();
    const code = await sup.done;
    log.flush?.();
    process.exit(code);
  },
};
