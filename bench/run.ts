// `npm run bench`: every figure beside its baseline, from one run. The machine is
// noisy: read the ratios, not the absolute numbers.
import { cpus } from 'node:os';
import { memory, requestReply, requestReplyOneCore, restartLatency, throughput } from './core.js';
import { cgroupCost } from './cgroup.js';
import { idleCost } from './idle.js';
import { startLatencyByLayer } from './isolation.js';
import { journalRates } from './journal.js';
import { scheduleCost } from './schedules.js';
import { printTable, type Row } from './lib.js';
import { priorityUnderFlood } from './priority.js';
import { peerRows } from './jetstream.js';
import { clusterRows } from './cluster.js';
import { footprint } from './footprint.js';
import { routedOneWayReal, routeRows } from './route.js';

const quick = process.argv.includes('--quick');
console.log(`outheis bench: node ${process.version}, ${cpus().length} cores${quick ? ' (quick)' : ''}\n`);
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',');
const want = (name: string) => !only || only.includes(name);
const rows: Row[] = [];
if (want('throughput')) rows.push(...(await throughput(quick ? 20000 : 200000, 64)));
if (want('latency')) rows.push(...(await requestReply(quick ? 2000 : 10000, 64)));
if (want('latency')) rows.push(...(await requestReplyOneCore(quick ? 2000 : 10000, 64)));
if (want('restart')) rows.push(await restartLatency(quick ? 5 : 20));
if (want('isolation')) rows.push(...(await startLatencyByLayer(quick ? 5 : 20)));
if (want('journal')) rows.push(...(await journalRates(quick ? 50_000 : 200_000, quick ? 200_000 : 1_000_000)));
if (want('cgroup')) rows.push(...(await cgroupCost(quick ? 2 : 4, quick ? 4 : 10)));
if (want('memory')) rows.push(...(await memory(100)));
// Idle means steady state: V8 keeps collecting and shrinking for ~30 s after 100 spawns.
if (want('idle')) rows.push(...(await idleCost(100, quick ? 5 : 40, quick ? 5000 : 60000)));
if (want('schedules')) rows.push(...(await scheduleCost(100, quick ? 5 : 40, quick ? 5000 : 60000)));
if (want('priority')) rows.push(...(await priorityUnderFlood(quick ? 3 : 5, 200, quick ? 3 : 10)));
const peerN = quick ? 20000 : 200000;
if (want('jetstream')) rows.push(...(await peerRows(async () => { const s = await routedOneWayReal(peerN, 64); return { rate: s.rate, cpuPerMsg: s.cpuUsPerMsg }; }, peerN, 64)));
// Two real supervisors (h1, h2) on one nats-server, beside one supervisor and JetStream direct.
if (want('cluster')) rows.push(...(await clusterRows(peerN, quick ? 2000 : 10_000, 64)));
// Through a real `outheis start`, settled: 1, 10, 100, 200 idle agents (a few minutes).
if (want('footprint')) rows.push(...(await footprint()));
if (want('route')) rows.push(...(await routeRows(quick ? 20_000 : 200_000, quick ? 2000 : 10_000, 64)));
printTable(rows);
process.exit(0);
