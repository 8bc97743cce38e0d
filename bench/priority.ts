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
import { fmt, median, percentile, sleep, type Row } from './lib.js';

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
function measure(send: System['send'], n: number, cliRuns: number) {
  const agent = send<Ask[]>('asker', 'probe', { n, gapMs: 2 }).map((a) => a.ms).sort((a, b) => a - b);
  const cli: number[] = [];
  for (let i = 0; i < cliRuns; i++) {
    const t = performance.now();
    send('service', 'ask', {}, ['--qos', 'interactive']);
    cli.push(performance.now() - t);
  }
  return { agent, cli };
}

type System = Awaited<ReturnType<typeof startSystem>>;
interface FloodStats { accepted: number; outstanding: number }

/** The flood is over once every flooder has nothing outstanding and the service has handled all that was accepted. */
async function drained(send: System['send']): Promise<number> {
  for (;;) {
    const stats = FLOODERS.map((f) => send<FloodStats>(f, 'stats'));
    const accepted = stats.reduce((a, s) => a + s.accepted, 0);
    if (stats.every((s) => s.outstanding === 0) && send<number>('service', 'count') === accepted) return accepted;
    await sleep(200);
  }
}

const p = (xs: number[], q: number) => percentile([...xs].sort((a, b) => a - b), q);

/**
 * Rounds of idle, then flood, each round's flood against the idle measured just
 * before it: this machine's noise (other jobs) comes in bursts, and a burst that
 * hits one phase of a single run decides its ratio. The figure is the median of the
 * rounds' ratios, with their spread; every ask of every round is also pooled.
 */
export async function priorityUnderFlood(rounds: number, n: number, cliRuns: number): Promise<Row[]> {
  const sys = await startSystem();
  try {
    sys.send('asker', 'probe', { n: Math.min(50, n) }); // warm-up
    const idle = { agent: [] as number[], cli: [] as number[] };
    const flood = { agent: [] as number[], cli: [] as number[] };
    const ratios99: number[] = [];
    const ratios50: number[] = [];
    const cliPerRound = Math.ceil(cliRuns / rounds);
    let accepted = 0;
    for (let r = 0; r < rounds; r++) {
      const i = measure(sys.send, n, cliPerRound);
      for (const f of FLOODERS) sys.send(f, 'flood');
      sys.send('spinner', 'spin');
      await sleep(1000); // the flood reaches its steady state: background's share full, senders parked
      const f = measure(sys.send, n, cliPerRound);
      for (const fl of FLOODERS) sys.send(fl, 'halt');
      sys.send('spinner', 'rest');
      accepted = await drained(sys.send); // the next round's idle is idle
      ratios99.push(p(f.agent, 99) / p(i.agent, 99));
      ratios50.push(p(f.agent, 50) / p(i.agent, 50));
      idle.agent.push(...i.agent); idle.cli.push(...i.cli);
      flood.agent.push(...f.agent); flood.cli.push(...f.cli);
    }
    const spread = (xs: number[]) => `${fmt.x(Math.min(...xs))}-${fmt.x(Math.max(...xs))}`;
    const med99 = median(ratios99);
    return [
      { metric: `interactive request p99 under a flood of 3 background agents + a spinner, median of ${rounds} rounds of ${n} asks (spread ${spread(ratios99)})`, ours: '-', base: '-', ratio: fmt.x(med99), target: '<= 3x', pass: med99 <= 3 },
      { metric: `the same, all ${rounds * n} asks pooled: p99`, ours: fmt.ms(p(flood.agent, 99)), base: `${fmt.ms(p(idle.agent, 99))} idle`, ratio: fmt.x(p(flood.agent, 99) / p(idle.agent, 99)), target: 'reported', pass: undefined },
      { metric: `the same, p50 (median of rounds, spread ${spread(ratios50)})`, ours: fmt.ms(p(flood.agent, 50)), base: `${fmt.ms(p(idle.agent, 50))} idle`, ratio: fmt.x(median(ratios50)), target: 'reported', pass: undefined },
      { metric: `outheis send --wait --qos interactive, median of ${idle.cli.length} (whole CLI run)`, ours: fmt.ms(p(flood.cli, 50)), base: `${fmt.ms(p(idle.cli, 50))} idle`, ratio: fmt.x(p(flood.cli, 50) / p(idle.cli, 50)), target: 'reported', pass: undefined },
      { metric: 'background messages accepted meanwhile (3 flooders, all rounds)', ours: accepted.toLocaleString('en-US'), base: '-', ratio: '-', target: 'reported', pass: undefined },
    ];
  } finally {
    await sys.stop();
  }
}
