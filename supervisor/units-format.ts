// Kept for supervisor.ts until it imports formatSize from protocol/units.ts itself.
import { formatSize } from '../protocol/units.js';

/** `301 MiB`, `9.5 MiB`: sizes as the supervisor's own messages say them (exit reasons). */
export const formatMiB = (bytes: number): string => formatSize(bytes, { unit: 'MiB' });
