/** An error the API answers with `{status, error, details?}`. Throw it anywhere under a route. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (message: string, details?: unknown) => new HttpError(400, message, details);
export const unprocessable = (message: string, details?: unknown) => new HttpError(422, message, details);
export const notFound = (what: string) => new HttpError(404, `${what} not found`);
export const forbidden = (message: string) => new HttpError(403, message);
export const unauthorized = (message: string) => new HttpError(401, message);
export const conflict = (message: string) => new HttpError(409, message);
