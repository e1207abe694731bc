export { ConfigError, parseRetrySchedule, platformOptions } from './config.js';
export { type Platform, type PlatformOptions, startPlatform } from './platform.js';
export type * from './types.js';
