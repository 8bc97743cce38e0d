// Replies are JSON, but message bodies are msgpack and may hold what JSON has no
// word for (bytes, bigints, maps). Say them in JSON rather than fail the reply.
export function encodeReply(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    // The holder's own value: Buffer's toJSON has already run on `v`.
    const orig = this[key];
    if (orig instanceof Uint8Array) return { base64: Buffer.from(orig.buffer, orig.byteOffset, orig.byteLength).toString('base64') };
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Map) return Object.fromEntries(v);
    if (v instanceof Set) return [...v];
    if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
    return v;
  });
}
