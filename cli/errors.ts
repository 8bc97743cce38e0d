// Exit codes: 0 ok, 1 failure, 2 usage or config error.
export class UsageError extends Error {}

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;
