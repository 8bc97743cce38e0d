// `outheis redrive`: dead letters sent again through the running supervisor. Each
// becomes a NEW accepted message (a fresh id, journaled with `redrive: <the dead
// letter's id>`), so the history is never rewritten: the dead letter stays in the
// journal, and `outheis journal deadletters` shows it redriven, and once the new
// message is acked, handled. It goes to the same agent, from the same sender, with
// the same kind, qos and body; as a one-way message, since whoever waited for a
// reply to a request gave up long ago.
import type { Journal } from '../logs/journal/journal.js';
import { pendingRedrive, readDeadLetters, type DeadLetter } from '../logs/journal/deadletters.js';
import type { AnyNewRecord } from '../logs/journal/schema.js';
import type { Envelope } from './mailbox.js';
import { OPERATOR, type Route, type Router } from './router/index.js';

export interface RedriveRequest {
  ids?: number[];
  agent?: string;
  all?: boolean;
}

export interface Redriven {
  /** The dead letter's id, and the new message's. */
  id: number;
  as: number;
  to: string;
  kind: string;
}

/** Nothing was redriven: `code` and a message that names each id refused and why. */
export class RedriveRefused extends Error {
  constructor(readonly code: 'ENOTDEAD' | 'ENOAGENT' | 'EJOURNAL', message: string) {
    super(message);
  }
}

/** Dead letters redriven by this run, by id, to the new ids: a second redrive before the first is on disk is refused too. */
const claimed = new WeakMap<Journal, Map<number, number>>();

function choose(all: DeadLetter[], req: RedriveRequest, mine: Map<number, number>): DeadLetter[] {
  const pending = (d: DeadLetter) => pendingRedrive(d) && !mine.has(d.id);
  if (req.ids?.length) {
    const byId = new Map(all.map((d) => [d.id, d]));
    const problems: string[] = [];
    const chosen: DeadLetter[] = [];
    for (const id of new Set(req.ids)) {
      const d = byId.get(id);
      if (!d) problems.push(`#${id} is not a dead letter (the journal has no deadletter record for it; see outheis journal deadletters)`);
      else if (!pending(d)) problems.push(`#${id} was already redriven, as #${d.redriven?.id ?? mine.get(id)}`);
      else chosen.push(d);
    }
    if (problems.length) throw new RedriveRefused('ENOTDEAD', `nothing redriven: ${problems.join('; ')}`);
    return chosen;
  }
  const chosen = all.filter((d) => pending(d) && (req.agent === undefined || d.to === req.agent));
  if (!chosen.length) throw new RedriveRefused('ENOTDEAD', `no dead letters waiting for a redrive${req.agent ? ` to ${req.agent}` : ''}`);
  return chosen;
}

export async function redrive(journal: Journal, router: Router, req: RedriveRequest): Promise<Redriven[]> {
  let mine = claimed.get(journal);
  if (!mine) claimed.set(journal, (mine = new Map()));
  await journal.idle(); // the dead letters noted so far are on disk
  const chosen = choose(await readDeadLetters(journal.dir, { bodies: true }), req, mine);
  const gone: string[] = [];
  const bodiless: string[] = [];
  const routes: Route[] = [];
  for (const d of chosen) {
    const route = router.routes.get(d.to);
    if (!route || d.to === OPERATOR || route.removed) gone.push(`#${d.id}: agent "${d.to}" is not running (no longer in the config, or stopped for good: outheis restart ${d.to} first)`);
    else if (!d.body) bodiless.push(`#${d.id}: its body is no longer in the journal (retention removed the segment that held it)`);
    else routes.push(route);
  }
  if (gone.length || bodiless.length) throw new RedriveRefused(gone.length ? 'ENOAGENT' : 'ENOTDEAD', `nothing redriven: ${[...gone, ...bodiless].join('; ')}`);
  const envs: Envelope[] = chosen.map((d, i) => ({
    id: router.newId(), from: d.from, to: d.to, kind: d.kind, qos: d.qos ?? routes[i]!.spec.qos, req: false, seq: 0,
    fromEpoch: -1, body: Buffer.from(d.body!), redelivered: false, attempts: 0, segment: -1, done: false,
  }));
  const recs: AnyNewRecord[] = envs.map((e, i) => ({ type: 'accept', id: e.id, from: e.from, to: e.to, kind: e.kind, qos: e.qos, body: e.body, redrive: chosen[i]!.id }));
  chosen.forEach((d, i) => mine.set(d.id, envs[i]!.id));
  let segment: number;
  try {
    segment = await new Promise<number>((resolve, reject) => journal.stage(recs, recs.length, (err, seg) => (err ? reject(err) : resolve(seg))));
  } catch (err) {
    for (const d of chosen) mine.delete(d.id);
    throw new RedriveRefused('EJOURNAL', `nothing redriven: ${(err as Error).message}`);
  }
  // Accepted: into the mailboxes, as recovery puts back what the journal owes.
  for (const env of envs) {
    env.segment = segment;
    router.restore(env);
  }
  for (const route of new Set(routes)) router.pump(route);
  return envs.map((e, i) => ({ id: chosen[i]!.id, as: e.id, to: e.to, kind: e.kind }));
}
