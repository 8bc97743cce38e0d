// Errors an agent sees from send/request. The codes are one list (constants.ts); each
// is also exported by name so that agents can compare `err.code === EDENIED`.
import type { ErrorCode } from './constants.js';

export type { ErrorCode };

export class OutheisError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
    this.name = 'OutheisError';
  }
}

export const EDENIED = 'EDENIED' satisfies ErrorCode;
export const ENOAGENT = 'ENOAGENT' satisfies ErrorCode;
export const ETIMEDOUT = 'ETIMEDOUT' satisfies ErrorCode;
export const EHANDLER = 'EHANDLER' satisfies ErrorCode;
export const ETOOBIG = 'ETOOBIG' satisfies ErrorCode;
export const ESHUTDOWN = 'ESHUTDOWN' satisfies ErrorCode;
/** The supervisor could not journal it (a full disk): not accepted, safe to retry. */
export const EJOURNAL = 'EJOURNAL' satisfies ErrorCode;
