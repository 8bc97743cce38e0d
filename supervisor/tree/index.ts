export type { Action, ChildState, Backoff, ChildSpec, Policy, RestartType, StartLimit, Strategy, TreeSpec } from './spec.js';
export { RestartHistory } from './intensity.js';
export { countFailure, restartDelay } from './backoff.js';
export { SupervisionTree } from './decide.js';
