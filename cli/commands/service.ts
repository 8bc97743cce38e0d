// `outheis service install`: the systemd unit for this config, written and enabled,
// or only printed. What goes into the unit is supervisor/service/unit.ts.
import { chmodSync, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { readConfig } from '../config-arg.js';
import { EXIT, UsageError } from '../errors.js';
import { SUPERVISOR_NODE_FLAGS } from '../node-flags.js';
import { renderUnit, type Scope } from '../../supervisor/service/unit.js';
import { hostFacts, systemctl, unitDir } from '../../supervisor/service/systemd.js';
import { PACKAGE_ROOT } from '../../policies/package-root.js';

interface Args { config?: string; print?: boolean; name: string; user?: boolean }

/** The `outheis` command itself: what ExecStart runs. */
const OUTHEIS = join(PACKAGE_ROOT, 'dist/cli/main.js');

/** systemd's unit name characters; no template (`@`), no path. */
const UNIT_NAME = /^[A-Za-z0-9:_.\\-]+$/;

export function unitName(name: string): string {
  const base = name.endsWith('.service') ? name.slice(0, -'.service'.length) : name;
  if (!base || !UNIT_NAME.test(base) || base.includes('@')) {
    throw new UsageError(`--name: ${JSON.stringify(name)} is not a unit name (letters, digits, ":", "_", ".", "-"; no "@" or "/")`);
  }
  return base;
}

function checkScope(scope: Scope): void {
  const root = process.getuid?.() === 0;
  if (scope === 'system' && !root) {
    throw new UsageError('a system unit goes to /etc/systemd/system and runs agents under uids of their own: run this as root, or pass --user for a rootless unit under your user manager');
  }
  if (scope === 'user' && root) {
    throw new UsageError('--user is for a rootless supervisor under a non-root user\'s manager; as root, drop --user: the system unit gives every agent a uid of its own');
  }
}

function install(argv: Args): number {
  const scope: Scope = argv.user ? 'user' : 'system';
  const name = unitName(argv.name);
  if (!argv.print) checkScope(scope);
  const { cfg } = readConfig(argv.config);
  const unit = renderUnit(cfg, hostFacts(cfg, scope, { outheis: OUTHEIS, nodeFlags: SUPERVISOR_NODE_FLAGS }));
  if (argv.print) {
    process.stdout.write(unit.text);
    for (const n of unit.notes) console.error(`note: ${n}`);
    return EXIT.ok;
  }

  const dir = unitDir(scope);
  const file = join(dir, `${name}.service`);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  // Whole or not at all: systemd may read the directory at any moment.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, unit.text, { mode: 0o644 });
  chmodSync(tmp, 0o644); // whatever the umask
  renameSync(tmp, file);
  console.log(`wrote ${file} (Type=${unit.type}, TimeoutStopSec=${unit.timeoutStopSec}s)`);
  // The supervisor's own directory, made now: ProtectSystem=strict would forbid the service to create it.
  if (!unit.stateDirectory && !existsSync(cfg.stateDir)) {
    mkdirSync(cfg.stateDir, { recursive: true, mode: 0o700 });
    console.log(`created ${cfg.stateDir} (state_dir)`);
  }
  for (const n of unit.notes) console.error(`note: ${n}`);

  const sc = scope === 'user' ? 'systemctl --user' : 'systemctl';
  for (const args of [['daemon-reload'], ['enable', `${name}.service`]]) {
    const r = systemctl(scope, args);
    if (!r.ok) {
      console.error(`outheis: ${r.command} failed: ${r.why}`);
      console.error(`The unit is written (${file}). To finish where systemd runs: ${sc} daemon-reload && ${sc} enable --now ${name}`);
      return EXIT.failure;
    }
    console.log(`ran ${r.command}`);
  }
  const journal = scope === 'user' ? `journalctl --user -u ${name}` : `journalctl -u ${name}`;
  console.log(`enabled ${name}.service: start it with \`${sc} start ${name}\`; \`${sc} status ${name}\`, \`${sc} reload ${name}\`, \`${journal}\``);
  return EXIT.ok;
}

export const service: CommandModule<object, object> = {
  command: 'service',
  describe: 'run under systemd: `service install` writes and enables the unit',
  builder: (y) => y.command<Args>({
    command: 'install',
    describe: 'write the systemd unit for this config, then systemctl daemon-reload and enable it (--print: only print it)',
    builder: (yy) => yy
      .option('print', { type: 'boolean', describe: 'print the unit, write and run nothing' })
      .option('name', { type: 'string', default: 'outheis', describe: 'the unit\'s name (<name>.service)' })
      .option('user', { type: 'boolean', describe: 'a user unit (~/.config/systemd/user, systemctl --user) for a rootless supervisor' }) as never,
    handler: (argv) => {
      process.exitCode = install(argv);
    },
  }).demandCommand(1, 'name a service verb: install') as never,
  handler: () => undefined,
};
