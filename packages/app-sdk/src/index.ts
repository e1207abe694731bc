export * from './keys.js';
export * from './signing.js';
