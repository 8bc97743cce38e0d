// Soak agent: takes pokes, and crashes (exit 1) after the number of ms in its first
// argument, so the supervisor restarts it by policy over and over.
import { agent } from 'outheis/worker';

let pokes = 0;
agent.handle('poke', () => void pokes++);
await agent.ready();
console.error(`up; crashing in ${process.argv[2]} ms`);
setTimeout(() => process.exit(1), Number(process.argv[2] ?? 10000));
