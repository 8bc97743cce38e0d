// Bench agent: does nothing, as a long-lived idle agent would.
import { agent } from 'outheis/worker';

await agent.ready();
