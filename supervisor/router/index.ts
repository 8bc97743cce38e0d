// The router's entry: the Router composes its parts (router.ts), one file per concern.
export { Router, type RouterOptions } from './router.js';
export { Route, type Outlet, type RouteSpec } from './route.js';
export type { RouterEvents } from './events.js';
export { OPERATOR, type Remote } from './admission.js';
export { acceptRecord } from './staging.js';
export type { RouterJournal } from '../../logs/journal/port.js';
export { SEND_WINDOW } from '../../protocol/constants.js';
