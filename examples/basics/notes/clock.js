// clock: background work, one tick a second to `notes`.
import { agent } from 'outheis/worker';

await agent.ready();
setInterval(() => {
  agent.send('notes', 'tick', { at: Date.now() }, { qos: 'background' }).catch((err) => console.error('clock:', err.code, err.message));
}, 1000);
