// greeter: answers requests, e.g. from the operator.
import { agent } from 'outheis/worker';

agent.handle('hello', ({ who = 'operator' } = {}, msg) => ({ greeting: `hello, ${who}`, from: agent.name, to: msg.from }));
await agent.ready();
