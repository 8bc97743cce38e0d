// Baseline: direct Node IPC (process.send), no supervisor in between.
const now = () => performance.timeOrigin + performance.now();
process.on('message', (m) => {
  if (m.cmd === 'flood') {
    const payload = 'x'.repeat(m.size);
    process.send({ cmd: 'start', at: now() });
    for (let i = 0; i < m.n; i++) process.send({ i, payload });
  } else if (m.cmd === 'echo') {
    process.send(m);
  } else if (m.cmd === 'exit') {
    process.exit(0);
  }
});
process.send({ cmd: 'up' });
