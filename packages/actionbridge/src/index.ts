export { ConfigError, parseRetrySchedule, platformOptions } from './config.js';
export type * from './domain/types.js';
export { type Platform, type PlatformOptions, startPlatform } from './platform.js';
