// Joining the cluster (`cluster:` in the config). This module loads NATS, and is itself
// loaded with a dynamic import (main.ts), so a supervisor without `cluster:` never
// loads the client. It wires the link
// to both sides: what our agents send to other hosts (origin.ts) and what other hosts
// send to ours (receiver.ts), and answers `status` about it.
import type { JsMsg } from '@nats-io/jetstream';
import type { Logger } from '../../logs/logger.js';
import type { Journal } from '../../logs/journal/journal.js';
import type { ClusterConfig } from '../config/index.js';
import type { Router } from '../router/index.js';
import { ClusterLink } from '../../cluster/link.js';
import * as wire from '../../cluster/wire.js';
import { OPERATOR } from '../router/index.js';
import { Origin, type RemoteAgent } from './origin.js';
import { Receiver } from './receiver.js';
import type { ClusterStatusJson } from '../control/protocol.js';


export interface ClusterMember {
  status(): ClusterStatusJson;
  close(): Promise<void>;
}

export interface JoinContext {
  router: Router;
  remote: readonly RemoteAgent[];
  /** Each local agent's pledge, published for receivers to check our sends against. */
  pledges(): Record<string, readonly string[]>;
  journal: Journal | undefined;
  log: Logger;
}

export function joinCluster(cfg: ClusterConfig, ctx: JoinContext): ClusterMember {
  const { router, remote, log } = ctx;
  const recovered = ctx.journal?.recovered;
  const origins = recovered?.origins ?? [];
  let origin: Origin | undefined;
  let receiver: Receiver | undefined;
  const inbound = (m: JsMsg): void => {
    const token = m.subject.slice(m.subject.lastIndexOf('.') + 1);
    if (token === wire.RECEIPT || token === wire.REPLY) return settle(m, token);
    receiver!.message(m, token);
  };
  const settle = (m: JsMsg, token: string): void => {
    try {
      const host = m.headers?.get(wire.H.host) ?? '';
      if (token === wire.RECEIPT) {
        const r = wire.receiptSchema.parse({ host, ids: JSON.parse(new TextDecoder().decode(m.data)) });
        origin!.receipt(r.host, r.ids);
      } else {
        const h = wire.replyHeadersSchema.parse(wire.fields((k) => m.headers?.get(k) ?? '', ['host', 'corr', 'err']));
        const err = h.err ? wire.wireErrorSchema.parse(JSON.parse(new TextDecoder().decode(m.data))) : undefined;
        origin!.reply(h.host, h.corr, err, err ? Buffer.alloc(0) : Buffer.from(m.data));
      }
    } catch (err) {
      log.warn({ subject: m.subject, err: (err as Error).message }, 'cluster: malformed receipt or reply dropped');
    }
    m.ack();
  };
  const link: ClusterLink = new ClusterLink({
    servers: Array.isArray(cfg.nats) ? cfg.nats : [cfg.nats], host: cfg.host, stream: cfg.stream, creds: cfg.creds,
    inbound,
    up: () => {
      log.info({ server: link.status().server }, 'cluster: connected');
      receiver!.connected();
      // Pledges before sends: a receiver checks our sends against them, and refuses one it finds none for.
      link.publishPledges({ ...ctx.pledges(), [OPERATOR]: ['send:*'] })
        .catch((err: Error) => log.warn({ err: err.message }, 'cluster: pledges not published; other hosts refuse our sends until they are'))
        .finally(() => { if (link.status().connected) origin!.connected(); });
    },
    down: (reason) => {
      log.warn({ reason }, 'cluster: disconnected; sends to other hosts are journaled and owed until it is back');
      origin!.disconnected();
    },
    warn: (fields, msg) => log.warn(fields, msg),
  });
  origin = new Origin(router, remote, cfg.host, link, log);
  receiver = new Receiver(router, cfg.host, link, origins, log);
  recovered?.origins.clear(); // the receiver keeps its own, bounded copy
  // A request from another host recovered from our journal is answered through its sender's route.
  for (const m of recovered?.owed.values() ?? []) if (m.origin) receiver.senderRoute(m.from, m.origin.host);
  return {
    status: () => {
      const s = link.status();
      return { host: cfg.host, connected: s.connected, server: s.server, since: s.since, lastError: s.lastError, peers: s.peers, owed: origin!.owed(), pending: s.pending, ackPending: s.ackPending, dedup: receiver!.remembered };
    },
    close: async () => {
      receiver!.close();
      origin!.close();
      await link.close();
    },
  };
}
