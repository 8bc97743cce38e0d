// The embedding API: run a supervisor from your own Node program instead of the CLI.
export { Supervisor, type AgentStatus, type AgentState, type LastExit, type SupervisorOptions, type SupervisorEvents } from './supervisor.js';
export { loadConfig, parseConfig, findConfigFile, ConfigError, formatConfigIssues, type Config, type AgentConfig, type GroupConfig } from './config/index.js';
export { createLogger, silentLogger } from '../logs/logger.js';
