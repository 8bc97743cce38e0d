// What each control request does to the running supervisor. The server has
// already validated the request; here an unknown agent is the only bad input left.
import type { Supervisor } from '../supervisor.js';
import type { AgentStatus } from '../agent-slot.js';
import { ControlError, type Handler } from './server.js';
import type { AgentStatusJson, JournalStatusJson, Op, Request, RequestOf, ResultOf, StatusResult } from './protocol.js';
import { VERSION } from '../version.js';
import type { ExitHistory } from '../exit-history.js';
import { detailOf, listenForExits } from './detail.js';
import { redrive, RedriveRefused } from '../redrive.js';
import { ReloadRefused } from '../reload/index.js';

function agentJson(a: AgentStatus): AgentStatusJson {
  return {
    name: a.name, group: a.group ?? null, pid: a.pid ?? null, state: a.state, uptimeMs: a.uptimeMs, restarts: a.restarts,
    lastExit: a.lastExit ? { code: a.lastExit.code, signal: a.lastExit.signal, at: a.lastExit.at, reason: a.lastExit.reason, clean: a.lastExit.clean } : null,
    cpu: a.cpu ?? null, rss: a.rss ?? null, memoryLimit: a.memoryLimit ?? null,
    mailbox: a.mailbox, inflight: a.inflight, qos: a.qos, isolation: a.isolation, deadLetters: a.deadLetters,
  };
}

async function journalOf(sup: Supervisor): Promise<JournalStatusJson | null> {
  if (!sup.journal) return null;
  const usage = await sup.journal.usage();
  const cfg = sup.config.journal;
  const damaged = sup.journal.recovery.movedAside.map((m) => ({ file: m.file, movedTo: m.to, bytes: m.bytes, reason: m.reason }));
  return { ...usage, maxAttempts: cfg.maxAttempts, maxBytes: cfg.maxSize, retainMs: cfg.retain, damaged };
}

export async function statusOf(sup: Supervisor): Promise<StatusResult> {
  const own = sup.sampler.self();
  const journal = await journalOf(sup);
  const now = Date.now();
  return {
    supervisor: {
      pid: process.pid, version: VERSION, startedAt: sup.startedAt, uptimeMs: now - sup.startedAt,
      cpu: own?.cpu ?? null, rss: own?.rss ?? process.memoryUsage.rss(),
      config: sup.config.file, stateDir: sup.config.stateDir, stopping: sup.stopping, journal,
    },
    agents: sup.status().map(agentJson),
    schedules: sup.schedules(),
    ...(sup.cluster ? { cluster: sup.cluster.status() } : {}),
  };
}

function known(sup: Supervisor, name: string): string {
  if (!sup.has(name)) throw new ControlError('ENOAGENT', `no agent named "${name}" (agents: ${sup.config.order.join(', ')})`);
  return name;
}

/** How long `restart` waits to report the new process up: its start timeout, plus spawn time. */
const READY_SLACK_MS = 2000;

/** One function per operation, each checked against its result's schema type: what the CLI validates is what is produced. */
type Operations = { [O in Op]: (req: RequestOf<O>) => Promise<ResultOf<O>> };

function operations(sup: Supervisor, history: ExitHistory): Operations {
  return {
    ping: async () => ({ pid: process.pid, version: VERSION }),
    status: () => statusOf(sup),
    snapshot: () => sup.snapshot(),
    stop: async (req) => {
      if (req.agent === undefined) {
        const order = [...sup.config.order].reverse();
        await sup.halt(0);
        return { stopped: order };
      }
      const name = known(sup, req.agent);
      await sup.stop(name);
      return { agent: name, state: sup.status().find((a) => a.name === name)!.state };
    },
    restart: async (req) => {
      const name = known(sup, req.agent);
      if (sup.stopping) throw new ControlError('ESHUTDOWN', 'the supervisor is stopping');
      const before = sup.pid(name);
      await sup.restart(name);
      const ready = await sup.whenReady(name, sup.config.agents[name]!.startTimeout + READY_SLACK_MS);
      const now = sup.status().find((a) => a.name === name)!;
      return { agent: name, ready, previousPid: before ?? null, pid: now.pid ?? null, state: now.state };
    },
    send: async (req) => {
      if (sup.stopping) throw new ControlError('ESHUTDOWN', 'the supervisor is stopping');
      const reply = await sup.operator.send(req.to, req.kind, req.body, { wait: req.wait, timeout: req.timeout, qos: req.qos });
      return req.wait ? { reply: reply ?? null } : { accepted: true as const };
    },
    reload: async () => {
      try {
        return await sup.reload();
      } catch (err) {
        if (err instanceof ReloadRefused) throw new ControlError(err.code, err.message);
        throw err;
      }
    },
    // ---- detail (status <agent>) ----
    detail: async (req) => {
      const name = known(sup, req.agent);
      return detailOf(sup, history, agentJson(sup.status().find((a) => a.name === name)!));
    },
    // ---- redrive (supervisor/redrive.ts) ----
    redrive: async (req) => {
      const ways = [req.ids !== undefined, req.agent !== undefined, req.all === true].filter(Boolean).length;
      if (ways !== 1) throw new ControlError('EBADREQ', 'redrive takes exactly one of: ids, agent, all');
      if (!sup.journal) throw new ControlError('EJOURNAL', 'this supervisor runs without a journal: it has no dead letters');
      if (sup.stopping) throw new ControlError('ESHUTDOWN', 'the supervisor is stopping');
      if (req.agent !== undefined) known(sup, req.agent);
      try {
        return { redriven: await redrive(sup.journal, sup.router, req) };
      } catch (err) {
        if (err instanceof RedriveRefused) throw new ControlError(err.code, err.message);
        throw err;
      }
    },
  };
}

/** Call before sup.start(): exits are recorded from then on (detail.ts). */
export function controlHandler(sup: Supervisor): Handler {
  const ops = operations(sup, listenForExits(sup));
  return async (req: Request) => {
    // Read after the client gave up (this supervisor was stopped, or far behind): not carried out late.
    if (req.deadline !== undefined && Date.now() > req.deadline) {
      throw new ControlError('ETIMEDOUT', `the ${req.op} request arrived ${Date.now() - req.deadline} ms after its client stopped waiting; not carried out`);
    }
    // The request's op picks its function; TypeScript cannot correlate the two through a union, hence the widening.
    return (ops[req.op] as (r: Request) => Promise<ResultOf<Op>>)(req);
  };
}
