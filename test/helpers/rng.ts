import { randomInt } from 'node:crypto';
import type { TestContext } from 'node:test';

/** Deterministic PRNG (mulberry32), so a randomized test's failure is reproducible from its seed. */
export function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The variable that replays a run: OUTHEIS_TEST_SEED=<seed printed by the failing test>. */
export const SEED_ENV = 'OUTHEIS_TEST_SEED';

/**
 * The generator for one test: seeded from OUTHEIS_TEST_SEED when set, else afresh;
 * the seed is printed as the test's diagnostic, so that a failure can be replayed.
 */
export function seededRng(t: TestContext): () => number {
  const given = process.env[SEED_ENV];
  const seed = given !== undefined && given !== '' ? Number(given) >>> 0 : randomInt(0x1_0000_0000);
  t.diagnostic(`seed ${seed} (replay: ${SEED_ENV}=${seed})`);
  return rng(seed);
}
