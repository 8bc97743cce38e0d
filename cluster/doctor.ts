// `outheis doctor -c FILE` with `cluster:`: can this host reach NATS with its
// credentials, and is the stream as the cluster needs it? Findings, not guesses: each
// line says what the server answered.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { authenticatorOf } from './link.js';
import { pledgeStreamOf, streamIssues } from './settings.js';

export interface ClusterCheck {
  ok: boolean;
  /** [what, status, evidence], as the doctor's table has them. */
  rows: [string, 'works' | 'MISSING' | 'warning', string][];
}

export async function checkCluster(cfg: { nats: string | string[]; host: string; stream: string; creds?: string | undefined }): Promise<ClusterCheck> {
  const rows: ClusterCheck['rows'] = [];
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: cfg.nats, timeout: 3000, maxReconnectAttempts: 0, ...(cfg.creds ? { authenticator: authenticatorOf(cfg.creds) } : {}) });
  } catch (err) {
    rows.push(['cluster: NATS', 'MISSING', `cannot connect to ${String(cfg.nats)}: ${(err as Error).message}`]);
    return { ok: false, rows };
  }
  try {
    const version = nc.info?.version ?? '?';
    rows.push(['cluster: NATS', 'works', `connected to ${nc.getServer()} (nats-server ${version})`]);
    const jsm = await jetstreamManager(nc).catch((err: Error) => {
      rows.push(['cluster: JetStream', 'MISSING', `JetStream is not enabled for this account: ${err.message}`]);
      return undefined;
    });
    if (!jsm) return { ok: false, rows };
    for (const name of [cfg.stream, pledgeStreamOf(cfg.stream)]) {
      const si = await jsm.streams.info(name).catch(() => undefined);
      if (!si) {
        rows.push([`cluster: stream ${name}`, 'warning', 'does not exist yet: the first supervisor to connect creates it (with 1 replica)']);
        continue;
      }
      const issues = name === cfg.stream ? streamIssues(si.config) : [];
      rows.push([`cluster: stream ${name}`, issues.length ? 'MISSING' : 'works', issues.length ? issues.join('; ') : `${si.state.messages} messages, ${si.config.num_replicas} replica(s), storage ${si.config.storage}`]);
      if (name === cfg.stream && si.config.num_replicas < 3) {
        const sync = /^2\.(\d+)\./.exec(version);
        const old = sync !== null && Number(sync[1]) < 10;
        rows.push(['cluster: durability', 'warning', `R${si.config.num_replicas}: a power loss of the NATS host can lose what it acknowledged but had not synced; use R3 on separate failure domains${old ? ` (nats-server ${version} has no sync_interval)` : ', or sync_interval: always'}`]);
      }
    }
    const ci = await jsm.consumers.info(cfg.stream, cfg.host).catch(() => undefined);
    rows.push([`cluster: consumer ${cfg.host}`, ci ? 'works' : 'warning', ci ? `${ci.num_pending} waiting, ${ci.num_ack_pending} unacked, max_deliver ${ci.config.max_deliver}` : 'does not exist yet: created when this supervisor first connects']);
  } finally {
    await nc.close();
  }
  return { ok: rows.every((r) => r[1] !== 'MISSING'), rows };
}
