// createRenderer: agent output reads "time LEVEL agent│out  line", supervisor events
// "time LEVEL msg {extra keys}" on one line; anything that is not a JSON record comes
// back as it was; color: false means not one escape code, even when an agent printed
// some; nothing throws.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRenderer } from '../logs/render.js';

const T = 1732400001234;
const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
/** The local wall-clock time the renderer should show for T. */
const d = new Date(T);
const clock = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
const ESC = '\u001b';

const agentLine = (extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ level: 30, time: T, agent: 'notes', stream: 'stdout', msg: 'hello world', ...extra });
const supervisorLine = JSON.stringify({ level: 40, time: T, pid: 4242, hostname: 'box', msg: 'exited', agent: 'notes', code: 3, signal: null });

const plain = createRenderer({ color: false });

test('an agent output record: time, level, agent│stream, then the line', () => {
  assert.equal(plain(agentLine()), `${clock} INFO  notes│out  hello world`);
  assert.equal(plain(agentLine({ stream: 'stderr', level: 50 })), `${clock} ERROR notes│err  hello world`);
});

test('a truncated line is marked; showAgent: false leaves the agent out', () => {
  assert.equal(plain(agentLine({ truncated: true })), `${clock} INFO  notes│out  hello world …[truncated]`);
  assert.equal(createRenderer({ color: false, showAgent: false })(agentLine()), `${clock} INFO  out  hello world`);
});

test('a supervisor record: the message, then its other keys on the same line (an agent pid kept, hostname left out)', () => {
  assert.equal(plain(supervisorLine), `${clock} WARN  [4242] exited {"agent":"notes","code":3,"signal":null}`);
});

test('older records with an ISO time render the same time', () => {
  const iso = JSON.stringify({ level: 30, time: new Date(T).toISOString(), msg: 'started' });
  assert.equal(plain(iso), `${clock} INFO  started`);
});

test('an error object stays on the record line', () => {
  const line = JSON.stringify({ level: 50, time: T, msg: 'spawn failed', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at x' } });
  const out = plain(line);
  assert.ok(!out.includes('\n'), out);
  assert.ok(out.startsWith(`${clock} ERROR spawn failed {"err":{`), out);
});

test('a line that is not a JSON record comes back as it was', () => {
  for (const line of ['plain text from somewhere', '{"level":30,"msg":"torn', '', '42', 'null', '[1,2]', '"a string"']) {
    assert.equal(plain(line), line);
  }
});

test('a record with nothing to show is shown as it was; one without time or level still renders', () => {
  assert.equal(plain('{}'), '{}');
  assert.equal(plain(JSON.stringify({ msg: 'bare', n: 1 })), 'bare {"n":1}');
});

test('odd records never throw', () => {
  const odd = [
    { level: 'x', time: 'not a time', msg: { nested: true } },
    { agent: 7, stream: 'stdout', msg: null },
    { agent: 'notes', stream: 'weird', msg: 'x' },
    { level: 35, msg: 'custom level' },
    {},
  ];
  for (const rec of odd) {
    for (const color of [false, true]) assert.equal(typeof createRenderer({ color })(JSON.stringify(rec)), 'string');
  }
});

test('color: false has no escape codes, even for agent output that carried its own', () => {
  const colored = agentLine({ msg: `${ESC}[31mred${ESC}[0m and ${ESC}]0;title${'\u0007'}` });
  const lines = [agentLine(), agentLine({ stream: 'stderr', truncated: true }), supervisorLine, colored, `raw ${ESC}[2J text`];
  for (const line of lines) assert.ok(!plain(line).includes(ESC), JSON.stringify(plain(line)));
  assert.equal(plain(colored), `${clock} INFO  notes│out  [31mred[0m and ]0;title`);
});

test("color: true colours the output, but not with the agent's own escapes", () => {
  const color = createRenderer({ color: true });
  assert.ok(color(agentLine()).includes(`${ESC}[`));
  assert.ok(color(supervisorLine).includes(`${ESC}[`));
  assert.ok(!color(agentLine({ msg: `${ESC}[31mred` })).includes(`${ESC}[31mred`));
  // Stripped of colour, it is the plain rendering.
  const sgr = new RegExp(`${ESC}\\[[0-9;]*m`, 'g');
  assert.equal(color(agentLine()).replace(sgr, ''), plain(agentLine()));
  assert.equal(color(supervisorLine).replace(sgr, ''), plain(supervisorLine));
});
