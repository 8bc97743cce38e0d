// The package version, for status, ping and the journal's start records.
import { PACKAGE_VERSION } from '../policies/package-root.js';

export const VERSION = PACKAGE_VERSION;
