// Bench agent: sends or requests as fast as the protocol allows.
import { agent } from 'outheis/worker';

const now = () => performance.timeOrigin + performance.now();

agent.handle('flood', async ({ n, size }) => {
  const payload = 'x'.repeat(size);
  const t0 = now();
  // Fire-and-forget like process.send; the SDK's send window does the pacing.
  const pending = new Array(n);
  for (let i = 0; i < n; i++) pending[i] = agent.send('consumer', 'm', { i, payload });
  await Promise.all(pending);
  return { startedAt: t0, acceptedAt: now() };
});

agent.handle('rr', async ({ n, size }) => {
  const payload = 'x'.repeat(size);
  const lat = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await agent.request('consumer', 'echo', { i, payload });
    lat[i] = performance.now() - t;
  }
  return Array.from(lat);
});

await agent.ready();
