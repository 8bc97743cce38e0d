// The router's stable entry: its parts live in router/ (see router/router.ts).
export { Router, type RouterOptions } from './router/router.js';
export { Route, type Outlet, type RouteSpec } from './router/route.js';
export type { RouterEvents } from './router/events.js';
export { OPERATOR } from './router/admission.js';
export { acceptRecord } from './router/staging.js';
export type { RouterJournal } from '../logs/journal/port.js';
export { SEND_WINDOW } from '../protocol/constants.js';
