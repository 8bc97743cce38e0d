// `npm run soak` (not in CI): ten minutes of steady traffic through a real `outheis
// start` (sandboxed agents, journal on), with an agent that crashes every few seconds
// and is restarted by policy, and idle agents beside them. The supervisor's RSS and
// private memory are sampled every 5 s; the figure is the growth from the first
// minute's mean to the last minute's (target <= 5%).
//   node dist/bench/soak.js [--minutes=10] [--crash-ms=5000]
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { outheisStart } from './core.js';
import { memoryOf, type Memory } from './footprint.js';
import { fmt, printTable, sleep } from './lib.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const here = (p: string) => fileURLToPath(new URL(`../../bench/${p}`, import.meta.url));
const arg = (name: string, dflt: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const minutes = arg('minutes', 10);
const crashMs = arg('crash-ms', 5000);
const IDLE = 20;
const SAMPLE_MS = 5000;

const agents: Record<string, unknown> = {
  sink: { run: here('agents/consumer.js') },
  crasher: { run: here('agents/soak-crasher.js'), args: [String(crashMs)] },
  sender: { run: here('agents/soak-sender.js'), pledge: ['send:sink', 'send:crasher'], after: ['sink'] },
};
for (let i = 0; i < IDLE; i++) agents[`idle${i}`] = { run: here('agents/idle.js') };

console.log(`outheis soak: ${minutes} min, node ${process.version}; a crash every ${crashMs} ms, ${IDLE} idle agents, ~1,100 msgs/s`);
// A crash every few seconds for ten minutes is far inside this intensity: the soak is about memory, not escalation.
const sys = await outheisStart(agents, { supervisor: { intensity: 1000, period: '60s' } });
const samples: (Memory & { t: number })[] = [];
const t0 = performance.now();
const cli = <T>(...args: string[]): T => JSON.parse(execFileSync(process.execPath, [CLI, ...args, '--json'], { cwd: sys.dir, encoding: 'utf8' })) as T;
let restarts = NaN;
let traffic = { sent: NaN, failed: NaN };
try {
  while (performance.now() - t0 < minutes * 60_000) {
    await sleep(SAMPLE_MS);
    const m = { ...memoryOf(sys.pid), t: (performance.now() - t0) / 1000 };
    samples.push(m);
    if (samples.length % 12 === 0) console.log(`${m.t.toFixed(0).padStart(4)} s  RSS ${fmt.mb(m.rss)}  private ${fmt.mb(m.priv)}`);
  }
  restarts = cli<{ agents: { name: string; restarts: number }[] }>('status').agents.find((a) => a.name === 'crasher')?.restarts ?? NaN;
  traffic = cli<{ reply: typeof traffic }>('send', 'sender', 'stats', '{}', '--wait').reply;
} finally {
  await sys.stop();
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const first = samples.filter((s) => s.t <= 60);
const second = samples.filter((s) => s.t > 60 && s.t <= 120);
const last = samples.filter((s) => s.t > minutes * 60 - 60);
const growth = (key: keyof Memory) => mean(last.map((s) => s[key])) / mean(first.map((s) => s[key])) - 1;
const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
const rss = growth('rss');
printTable([
  { metric: `supervisor RSS over a ${minutes}-min soak, last minute vs first`, ours: fmt.mb(mean(last.map((s) => s.rss))), base: `${fmt.mb(mean(first.map((s) => s.rss)))} first minute`, ratio: pct(rss), target: '<= +5%', pass: rss <= 0.05 },
  { metric: 'supervisor RSS, last minute vs the second (past start-up and warm-up)', ours: fmt.mb(mean(last.map((s) => s.rss))), base: `${fmt.mb(mean(second.map((s) => s.rss)))} second minute`, ratio: pct(mean(last.map((s) => s.rss)) / mean(second.map((s) => s.rss)) - 1), target: 'reported', pass: undefined },
  { metric: 'supervisor private memory, last minute vs first', ours: fmt.mb(mean(last.map((s) => s.priv))), base: `${fmt.mb(mean(first.map((s) => s.priv)))} first minute`, ratio: pct(growth('priv')), target: 'reported', pass: undefined },
  { metric: 'crasher restarts by policy; messages the sender had accepted (refused)', ours: `${restarts} restarts`, base: `${traffic.sent.toLocaleString('en-US')} sent (${traffic.failed} refused)`, ratio: '-', target: 'reported', pass: undefined },
  { metric: 'highest RSS sampled', ours: fmt.mb(Math.max(...samples.map((s) => s.rss))), base: '-', ratio: '-', target: 'reported', pass: undefined },
]);
process.exit(0);
