// Sizes as the supervisor's own messages say them (log lines, exit reasons).
export const formatMiB = (bytes: number): string => `${(bytes / 1024 ** 2).toFixed(bytes < 10 * 1024 ** 2 ? 1 : 0)} MiB`;
