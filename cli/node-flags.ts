// The node flags the supervisor runs with (the bin's shebang carries the same).
export const SUPERVISOR_NODE_FLAGS = ['--max-semi-space-size=2', '--v8-pool-size=1'];
