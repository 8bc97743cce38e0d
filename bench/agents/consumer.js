// Bench agent: counts one-way messages, echoes requests.
import { agent } from 'outheis/worker';

const now = () => performance.timeOrigin + performance.now();
let count = 0;
let lastAt = 0;
agent.handle('m', () => { count++; lastAt = now(); });
agent.handle('echo', (body) => body);
agent.handle('stats', () => ({ count, lastAt }));
agent.handle('reset', () => { count = 0; lastAt = 0; });
await agent.ready();
