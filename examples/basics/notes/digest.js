// digest: asks notes for the latest notes, and crashes now and then, to show
// the supervisor restarting it (rest_for_one in group `core`).
import { agent } from 'outheis/worker';

await agent.ready();
console.log(`digest: up (pid ${process.pid})`);
setInterval(async () => {
  if (Math.random() < 0.15) {
    console.error('digest: simulated crash');
    process.exit(3);
  }
  try {
    const { ticks, notes } = await agent.request('notes', 'latest', { n: 2 }, { timeout: 2000 });
    console.log(`digest: ${ticks} ticks; latest: ${notes.join(' | ') || '(none yet)'}`);
  } catch (err) {
    console.error('digest: request failed:', err.code, err.message);
  }
}, 2000);
