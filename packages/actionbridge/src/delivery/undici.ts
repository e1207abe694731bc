import { createRequire } from 'node:module';
import type { Agent, Dispatcher, errors } from 'undici';

/** The parts of undici the delivery client uses. */
export interface UndiciParts {
  Agent: typeof Agent;
  /** undici's `Dispatcher.prototype.request`: called on the agent. */
  request: (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
  errors: typeof errors;
}

/**
 * Loads undici's agent, its `request` and its errors, and nothing else. `import('undici')` loads
 * all of undici (fetch, WebSocket, caches, mocks, …): +18 MB of resident memory measured here
 * (Node 20), against +9.7 MB for these modules; the platform's idle RSS target is 80 MB. These
 * are undici's own files (`lib/…`, stable through 7.x, the version is pinned to a minor); should a
 * release move them, the public entry point is loaded instead — the same functions, only heavier.
 */
export async function loadUndici(): Promise<UndiciParts> {
  const require = createRequire(import.meta.url);
  try {
    return {
      Agent: require('undici/lib/dispatcher/agent.js'),
      request: require('undici/lib/api/api-request.js'),
      errors: require('undici/lib/core/errors.js'),
    };
  } catch {
    const undici = await import('undici');
    return { Agent: undici.Agent, request: undici.Dispatcher.prototype.request, errors: undici.errors };
  }
}
