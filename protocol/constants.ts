// Protocol constants both ends need at run time. Kept free of zod (header.ts builds
// its schema from these) so that an agent never loads it (~11 MB, ~60 ms a start).

/** Environment variables the supervisor sets for the SDK. */
export const ENV = {
  name: 'OUTHEIS_AGENT',
  heartbeat: 'OUTHEIS_HEARTBEAT_MS',
  maxFrame: 'OUTHEIS_MAX_FRAME',
} as const;

export const QOS = ['interactive', 'user', 'utility', 'background'] as const;
export type Qos = (typeof QOS)[number];

/** A class's place in QOS (0 = interactive): both ends queue by it. */
export const QOS_RANK = Object.fromEntries(QOS.map((q, i) => [q, i])) as Record<Qos, number>;

/**
 * QOS_RANK[q] for the hot path: the router ranks every message several times (room,
 * reservation, queue, urgency), and comparing interned strings costs less there than
 * a keyed load from a map built at run time.
 */
export const rankOf = (q: Qos): number => (q === QOS[0] ? 0 : q === QOS[1] ? 1 : q === QOS[2] ? 2 : 3);

/**
 * Error codes an agent can see: DESIGN.md's six, and EJOURNAL (the journal could not
 * take it, so it was not accepted and may be retried).
 */
export const ERROR_CODES = ['EDENIED', 'ENOAGENT', 'ETIMEDOUT', 'EHANDLER', 'ETOOBIG', 'ESHUTDOWN', 'EJOURNAL'] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Longest agent name and message kind a header may carry. */
export const NAME_MAX = 64;
export const KIND_MAX = 128;

/**
 * Sends an agent may have written and not yet seen accepted. The SDK waits beyond it;
 * the supervisor calls an agent that parks more than this a flood.
 */
export const SEND_WINDOW = 4096;

/** Room a frame's header and prefix may take on top of the body, within a frame limit. */
export const HEADER_ROOM = 512;

/** Whether a body of `bytes` fits in a frame under `maxFrame`. */
export const fitsFrame = (bytes: number, maxFrame: number): boolean => bytes + HEADER_ROOM <= maxFrame;
