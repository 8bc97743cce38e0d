// `outheis start --detach`, for hosts without systemd: the supervisor is started in a
// session of its own (setsid, stdin closed), and this process waits until it is ready,
// by the same rule systemd's READY=1 follows (supervisor/service/readiness.ts): exit 0
// then, or 1 with the reason when it exits first (lock held, isolation refused, ...).
//
// It hears READY=1 on a socket it makes in a private temp directory; the child takes
// the path out of its environment at once (supervisor/service/env.ts) and connects:
// no fd is handed down, so nothing can leak on to the agents. The child's stdout and
// stderr go to state_dir/logs/outheis.out, which takes only errors until it is ready
// (supervisor.log and the agents' files have everything): that is the reason shown here.
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { APPEND, openSafeSync } from '../logs/safe-open.js';
import { resolveReal, type Config } from '../supervisor/config/index.js';
import { prepareStateDir, stateFiles } from '../supervisor/control/state-dir.js';
import { DETACH_SOCKET_ENV } from '../supervisor/service/env.js';
import { SUPERVISOR_NODE_FLAGS } from './node-flags.js';

/** The detached supervisor's stdout and stderr, beside supervisor.log (no agent is named so: names have no dot). */
export const DETACH_OUTPUT = 'outheis.out';

interface Outcome { ready: boolean; status: string | undefined; exit?: string }

/** Returns the exit code: 0 once ready, 1 when it stopped before. */
export async function detach(cfg: Config, args: string[]): Promise<number> {
  const files = stateFiles(resolveReal(cfg.stateDir).real);
  prepareStateDir(files.dir);
  const outPath = join(files.logs, DETACH_OUTPUT);
  const out = openSafeSync(outPath, APPEND);
  const from = fstatSync(out).size;
  const tmp = mkdtempSync(join(tmpdir(), 'outheis-detach-'));
  const path = join(tmp, 'ready.sock');
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, resolve));
  const child = spawn(process.execPath, [...SUPERVISOR_NODE_FLAGS, process.argv[1]!, 'start', '-c', cfg.file, ...args], {
    detached: true, stdio: ['ignore', out, out], env: { ...process.env, [DETACH_SOCKET_ENV]: path },
  });
  closeSync(out);
  const conns: Socket[] = [];
  const outcome = await new Promise<Outcome>((resolve) => {
    let status: string | undefined;
    server.on('connection', (sock) => {
      conns.push(sock);
      createInterface({ input: sock }).on('line', (line) => {
        const fields = JSON.parse(line) as string[];
        for (const field of fields) if (field.startsWith('STATUS=')) status = field.slice(7);
        if (fields.includes('READY=1')) resolve({ ready: true, status });
      });
      sock.on('error', () => undefined);
    });
    child.on('error', (err) => resolve({ ready: false, status, exit: err.message }));
    child.on('exit', (code, signal) => resolve({ ready: false, status, exit: `exit ${code ?? signal}` }));
  });
  server.close();
  for (const sock of conns) sock.destroy(); // the child hears that nobody waits any more
  rmSync(tmp, { recursive: true, force: true });
  child.unref();
  if (outcome.ready) {
    console.log(`outheis: started (pid ${child.pid}), ready: ${outcome.status ?? ''}`);
    console.log(`  logs: ${files.logs} (supervisor.log, one file per agent; ${DETACH_OUTPUT}: errors until it was ready)`);
    console.log(`  see it with 'outheis status -c ${cfg.file}'; stop it with 'outheis stop -c ${cfg.file}'`);
    return 0;
  }
  const said = readFileSync(outPath).subarray(from).toString('utf8').trim();
  console.error(`outheis: the supervisor did not come up (${outcome.exit})${said ? `:\n${said}` : ''}\n  logs: ${files.logs}`);
  return 1;
}
