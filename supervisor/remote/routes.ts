// The routes of agents on other hosts: made with the supervisor's own (before the
// journal's owed messages go back into mailboxes), with no NATS loaded yet; the
// link attaches them once it is connected (origin.ts).
import type { ClusterConfig } from '../config/index.js';
import type { Router } from '../router/index.js';
import type { RemoteAgent } from './origin.js';

/** Published and not yet receipted, per remote agent: the window of in-flight publishes. */
const PUBLISH_WINDOW = 1024;
/** The largest body NATS takes by default (max_payload, 1 MiB): nothing bigger is routed to another host. */
const REMOTE_MAX_FRAME = 1024 * 1024;

export function remoteAgents(router: Router, cluster: ClusterConfig): RemoteAgent[] {
  return Object.entries(cluster.agents).map(([name, host]) => ({
    host,
    route: router.add({ name, qos: 'utility', pledge: [], mailbox: cluster.owedMax, maxFrame: REMOTE_MAX_FRAME, prefetch: PUBLISH_WINDOW }),
  }));
}
