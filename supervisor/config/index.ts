// The config layer's public surface: load a file, or validate an object, into a Config.
export {
  loadConfig,
  recheckPaths,
  stateDirOf,
  parseConfig,
  findConfigFile,
  formatConfigIssues,
  formatPath,
  ConfigError,
  CONFIG_FILE_NAMES,
  type ConfigIssue,
} from './load.js';
export { preflight } from './preflight.js';
export {
  configSchema,
  NAME_PATTERN,
  RESERVED_AGENT_NAMES,
  STRATEGIES,
  RESTART_TYPES,
  QOS_CLASSES,
  FSYNC_POLICIES,
  type Config,
  type AgentConfig,
  type GroupConfig,
  type NestedGroupConfig,
  type Limits,
  type UnveilEntry,
  type ClusterConfig,
  type Qos,
  type RestartType,
  type Strategy,
  type FsyncPolicy,
  type UnveilMode,
  type ConfigContext,
} from './schema.js';
export {
  durationSchema,
  sizeSchema,
  percentSchema,
  parseDuration,
  parseSize,
  parsePercent,
  MAX_DURATION_MS,
} from '../../protocol/units.js';
export { pathsOverlap, startOrder } from './cross-checks.js';
export { resolveReal } from './real-paths.js';
