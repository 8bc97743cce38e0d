// A short digest for naming and change detection, not for security: the cgroup
// instance name of a state directory, and whether an agent's env file changed on
// reload. node:crypto would do it too, but loading it costs the supervisor ~2.5 MB
// of RSS (OpenSSL's tables and its JavaScript), for two hashes (README, Footprint).

/** 64 bits as 16 hex digits: two 32-bit FNV-1a-style lanes with different primes, each finished with an avalanche. */
export function digest(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x9e3779b9;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 13;
  }
  return hex(mix(a ^ text.length)) + hex(mix(b + Math.imul(a, 0x27d4eb2d)));
}

/** murmur3's finaliser: every input bit reaches every output bit. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const hex = (n: number): string => n.toString(16).padStart(8, '0');
