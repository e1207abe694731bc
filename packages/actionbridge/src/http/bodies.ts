import type { FastifyInstance } from 'fastify';
import { badRequest, DomainError } from '../domain/errors.js';
import { unstorableJson } from '../util/json.js';

/**
 * Body parsers (in the plugin that calls this) that also take the body-less requests epilot's
 * clients send: an empty body is no body, also with a JSON or form content-type (axios sends a POST
 * without data as `application/x-www-form-urlencoded`; `epilot app deploy` sends
 * `application/json` on every request). A body that is there must be JSON the store can hold.
 */
export function acceptBodylessJson(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.length === 0) return done(null, undefined);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return done(badRequest(`the body is not valid JSON: ${(err as Error).message}`));
    }
    const why = unstorableJson(value);
    return why ? done(badRequest(`the body cannot be accepted: ${why}`)) : done(null, value);
  });
  app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) =>
    (body as string).length === 0
      ? done(null, undefined)
      : done(
          new DomainError(
            'unsupported_media_type',
            `content-type ${req.headers['content-type']} is not supported: send JSON`,
          ),
        ),
  );
}
