// Soak agent: steady traffic. Every 10 ms a burst of one-way messages to the sink and
// one request to it, plus one to the crasher (which is down now and then: those wait in
// its mailbox, journaled, until it is back); a line of output a second.
import { agent } from 'outheis/worker';

const BURST = Number(process.argv[2] ?? 10);
let sent = 0;
let failed = 0;
const tick = () => {
  for (let i = 0; i < BURST; i++) agent.send('sink', 'm', { i: sent++ }).catch(() => failed++);
  agent.request('sink', 'echo', { i: sent }).catch(() => failed++);
  agent.send('crasher', 'poke', { i: sent }).catch(() => failed++);
};
await agent.ready();
setInterval(tick, 10);
setInterval(() => console.log(`sent ${sent} failed ${failed}`), 1000);
agent.handle('stats', () => ({ sent, failed }));
