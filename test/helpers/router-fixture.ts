// The router driven in memory, for its unit tests: routes get plain Outlet objects
// that record the frames written to them. No processes; the router is a pure component.
import assert from 'node:assert/strict';
import { Router, type Outlet, type Route, type RouteSpec, type RouterEvents, type RouterOptions } from '../../supervisor/router/index.js';
import { packValue } from '../../protocol/frame.js';
import type { AccHeader, AgentHeader, MsgHeader, Qos, RejHeader, ResHeader, SupervisorHeader } from '../../protocol/header.js';

export interface Written { header: SupervisorHeader; body: Buffer | undefined }

export class Recorder implements Outlet {
  readonly frames: Written[] = [];
  write(header: SupervisorHeader, body?: Uint8Array): void {
    this.frames.push({ header: structuredClone(header), body: body === undefined ? undefined : Buffer.from(body) });
  }
  of<T extends SupervisorHeader['t']>(t: T): (Extract<SupervisorHeader, { t: T }> & { body: Buffer | undefined })[] {
    return this.frames.filter((f) => f.header.t === t).map((f) => ({ ...(f.header as Extract<SupervisorHeader, { t: T }>), body: f.body }));
  }
  get msgs(): (MsgHeader & { body: Buffer | undefined })[] { return this.of('msg'); }
  get accs(): number[] { return this.of('acc').map((a: AccHeader) => a.seq); }
  get rejs(): RejHeader[] { return this.of('rej'); }
  get ress(): (ResHeader & { body: Buffer | undefined })[] { return this.of('res'); }
  clear(): void { this.frames.length = 0; }
}

export interface Fixture {
  router: Router;
  faults: { agent: string; reason: string }[];
  denied: { from: string; to: string; kind: string }[];
  add(spec: Partial<RouteSpec> & { name: string }, opts?: { ready?: boolean }): { route: Route; out: Recorder };
}

export function fixture(opts: RouterOptions = {}, events: Partial<RouterEvents> = {}): Fixture {
  const faults: Fixture['faults'] = [];
  const denied: Fixture['denied'] = [];
  const router = new Router({
    fault: (agent, reason) => faults.push({ agent, reason }),
    denied: (from, to, kind) => denied.push({ from, to, kind }),
    ...events,
  }, opts);
  return {
    router, faults, denied,
    add(spec, opts = {}) {
      const route = router.add({ qos: 'utility', pledge: [], mailbox: 100, maxFrame: 1 << 20, ...spec });
      const out = new Recorder();
      router.attach(route, out);
      if (opts.ready !== false) router.ready(route);
      return { route, out };
    },
  };
}

export const body = (v: unknown): Buffer => packValue(v);
export const send = (seq: number, to: string, extra: { kind?: string; qos?: Qos; req?: true } = {}): AgentHeader =>
  ({ t: 'send', seq, to, kind: extra.kind ?? 'k', ...(extra.qos ? { qos: extra.qos } : {}), ...(extra.req ? { req: true } : {}) });

/** Every rej for seq s must reach the sender before any acc covering s (the SDK settles a seq once). */
export function assertRejBeforeCoveringAcc(out: Recorder): void {
  let maxAcc = 0;
  for (const f of out.frames) {
    if (f.header.t === 'acc') maxAcc = Math.max(maxAcc, f.header.seq);
    if (f.header.t === 'rej') assert.ok(f.header.seq > maxAcc, `rej of seq ${f.header.seq} came after an acc through ${maxAcc}`);
  }
}

