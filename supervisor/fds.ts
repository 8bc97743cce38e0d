// The supervisor closes inherited descriptors at start; the code lives with the
// other enforcement layers (policies/fds.ts), where the doctor uses it too.
export { closeInheritedFds } from '../policies/fds.js';
