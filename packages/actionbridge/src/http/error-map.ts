import type { ErrorKind } from '../domain/errors.js';

/** The one place domain error kinds become HTTP statuses. */
export const STATUS_OF: Record<ErrorKind, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  not_allowed: 405,
  conflict: 409,
  too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  not_implemented: 501,
  unavailable: 503,
};
