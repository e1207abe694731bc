/**
 * Domain errors: what went wrong, in the caller's terms. The HTTP layer maps each kind to a status
 * in one place (`http/error-map.ts`); nothing below it knows about HTTP.
 */
export type ErrorKind =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'not_allowed'
  | 'conflict'
  | 'unprocessable'
  | 'too_large'
  | 'unsupported_media_type'
  | 'unavailable'
  /** An epilot operation ActionBridge does not implement (the message names it). */
  | 'not_implemented';

export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const badRequest = (message: string, details?: unknown) => new DomainError('bad_request', message, details);
export const unprocessable = (message: string, details?: unknown) => new DomainError('unprocessable', message, details);
export const notFound = (what: string) => new DomainError('not_found', `${what} not found`);
export const forbidden = (message: string) => new DomainError('forbidden', message);
export const unauthorized = (message: string) => new DomainError('unauthorized', message);
export const conflict = (message: string) => new DomainError('conflict', message);
/** The target exists but this operation cannot act on it in its state (epilot: a deleted entity is a 405). */
export const notAllowed = (message: string) => new DomainError('not_allowed', message);
