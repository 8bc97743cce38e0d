// Errors an agent sees from send/request, with the codes DESIGN.md names.
import type { ErrorCode } from '../supervisor/wire/header.js';

export type { ErrorCode };

export class OutheisError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
    this.name = 'OutheisError';
  }
}

export const EDENIED = 'EDENIED';
export const ENOAGENT = 'ENOAGENT';
export const ETIMEDOUT = 'ETIMEDOUT';
export const EHANDLER = 'EHANDLER';
export const ETOOBIG = 'ETOOBIG';
export const ESHUTDOWN = 'ESHUTDOWN';
/** The supervisor could not journal it (a full disk): not accepted, safe to retry. */
export const EJOURNAL = 'EJOURNAL';
