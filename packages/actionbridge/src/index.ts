export { startPlatform, type Platform, type PlatformOptions } from './platform.js';
export { platformOptions, parseRetrySchedule, ConfigError } from './config.js';
export type * from './types.js';
