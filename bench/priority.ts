// Priority under load: an interactive request's latency while three background agents
// flood the service it asks and a fourth spins the CPU, against the same request on
// the same system idle, in one run. Through a real `outheis start` from a config
// (sandboxed agents, journal on), as users run it. The agents are the admission
// test's (test/fixtures/prio-*.js).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SUPERVISOR_NODE_FLAGS } from '../cli/node-flags.js';
import { forEachLine } from '../logs/lines.js';
import { fmt, percentile, sleep, type Row } from './lib.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const agentFile = (name: string) => fileURLToPath(new URL(`../../test/fixtures/${name}`, import.meta.url));
const FLOODERS = ['flood1', 'flood2', 'flood3'];

interface Ask { ms: number }

async function startSystem() {
  const dir = mkdtempSync(join(tmpdir(), 'outheis-bench-prio-'));
  const file = join(dir, 'outheis.json');
  const agents: Record<string, unknown> = {
    service: { run: agentFile('prio-service.js'), args: ['50'], qos: 'user' },
    asker: { run: agentFile('prio-asker.js'), qos: 'interactive', pledge: ['send:service'] },
    spinner: { run: agentFile('prio-spin.js'), qos: 'background' },
  };
  for (const f of FLOODERS) agents[f] = { run: agentFile('prio-flood.js'), qos: 'background', pledge: ['send:service'] };
  writeFileSync(file, JSON.stringify({ state_dir: join(dir, 'state'), agents }));
  const sup = spawn(process.execPath, [...SUPERVISOR_NODE_FLAGS, CLI, 'start', '-c', file], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, OUTHEIS_LOG_LEVEL: 'info' } });
  let ready = 0;
  await new Promise<void>((resolve) => forEachLine(sup.stdout!, 1 << 20, (line) => {
    if (line.includes('"msg":"ready"') && ++ready === Object.keys(agents).length) resolve();
  }));
  const send = <T>(to: string, kind: string, body: unknown = {}, extra: string[] = []): T =>
    (JSON.parse(execFileSync(process.execPath, [CLI, 'send', to, kind, JSON.stringify(body), '--wait', '--json', '--timeout', '300s', ...extra], { cwd: dir, encoding: 'utf8' })) as { reply: T }).reply;
  const stop = async () => {
    sup.kill('SIGTERM');
    await new Promise((r) => sup.on('exit', r));
  };
  return { send, stop };
}

/** Interactive request latencies (agent -> service), and the operator's `send --wait --qos interactive` as run from a shell. */
function measure(send: Awaited<ReturnType<typeof startSystem>>['send'], n: number, cliRuns: number) {
  const agent = send<Ask[]>('asker', 'probe', { n, gapMs: 2 }).map((a) => a.ms).sort((a, b) => a - b);
  const cli: number[] = [];
  for (let i = 0; i < cliRuns; i++) {
    const t = performance.now();
    send('service', 'ask', {}, ['--qos', 'interactive']);
    cli.push(performance.now() - t);
  }
  return { agent, cli: cli.sort((a, b) => a - b) };
}

export async function priorityUnderFlood(n: number, cliRuns: number): Promise<Row[]> {
  const sys = await startSystem();
  try {
    sys.send('asker', 'probe', { n: Math.min(50, n) }); // warm-up
    const idle = measure(sys.send, n, cliRuns);
    for (const f of FLOODERS) sys.send(f, 'flood');
    sys.send('spinner', 'spin');
    await sleep(1000); // the flood reaches its steady state: background's share full, senders parked
    const flood = measure(sys.send, n, cliRuns);
    const accepted = FLOODERS.map((f) => sys.send<{ accepted: number }>(f, 'stats').accepted).reduce((a, b) => a + b, 0);
    for (const f of FLOODERS) sys.send(f, 'halt');
    sys.send('spinner', 'rest');
    const p = (xs: number[], q: number) => percentile(xs, q);
    const ratio99 = p(flood.agent, 99) / p(idle.agent, 99);
    return [
      { metric: `interactive request p99 under a flood of 3 background agents + a spinner (${n} asks)`, ours: fmt.ms(p(flood.agent, 99)), base: `${fmt.ms(p(idle.agent, 99))} idle`, ratio: fmt.x(ratio99), target: '<= 3x', pass: ratio99 <= 3 },
      { metric: 'the same, p50', ours: fmt.ms(p(flood.agent, 50)), base: `${fmt.ms(p(idle.agent, 50))} idle`, ratio: fmt.x(p(flood.agent, 50) / p(idle.agent, 50)), target: 'reported', pass: undefined },
      { metric: `outheis send --wait --qos interactive, median of ${cliRuns} (whole CLI run)`, ours: fmt.ms(p(flood.cli, 50)), base: `${fmt.ms(p(idle.cli, 50))} idle`, ratio: fmt.x(p(flood.cli, 50) / p(idle.cli, 50)), target: 'reported', pass: undefined },
      { metric: 'background messages accepted meanwhile (3 flooders)', ours: accepted.toLocaleString('en-US'), base: '-', ratio: '-', target: 'reported', pass: undefined },
    ];
  } finally {
    await sys.stop();
  }
}
