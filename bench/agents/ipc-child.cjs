// Baseline: direct Node IPC (process.send), no supervisor in between.
// As a source it floods; as a sink it counts and says when it has seen them all.
const now = () => performance.timeOrigin + performance.now();
let expected = 0;
let seen = 0;
process.on('message', (m) => {
  if (m.cmd === 'flood') {
    const payload = 'x'.repeat(m.size);
    process.send({ cmd: 'start', at: now() });
    for (let i = 0; i < m.n; i++) process.send({ i, payload });
  } else if (m.cmd === 'echo') {
    process.send(m);
  } else if (m.cmd === 'expect') {
    expected = m.n;
    seen = 0;
  } else if (m.cmd === undefined) {
    if (++seen === expected) process.send({ cmd: 'counted', at: now() });
  }
});
process.send({ cmd: 'up' });
