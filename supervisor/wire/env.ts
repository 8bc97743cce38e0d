// Names shared by both ends that agents need at run time. Kept apart from
// header.ts so that an agent never loads zod (it costs ~11 MB and ~60 ms a start).

/** Environment variables the supervisor sets for the SDK. */
export const ENV = {
  name: 'OUTHEIS_AGENT',
  heartbeat: 'OUTHEIS_HEARTBEAT_MS',
  maxFrame: 'OUTHEIS_MAX_FRAME',
} as const;
