import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { forbidden, unauthorized } from '../domain/errors.js';
import type { Grant } from '../domain/types.js';
import type { AccessTokens } from '../keys/access-tokens.js';
import type { ApiTokenRow, Store } from '../store/store.js';

/** Who is calling: the platform admin, an org's API token, or an app's access token. */
export type Principal =
  | { kind: 'admin' }
  | { kind: 'org'; org_id: string; role: string; token_id: string }
  | { kind: 'app'; org_id: string; app_id: string; execution_id: string; grants: Grant[] };

export const ORG_ROLES = ['owner'] as const;
const ALL: Grant[] = [{ action: 'entity:*' }];

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');
export const newApiToken = () => `abt_${randomBytes(24).toString('base64url')}`;

/**
 * API tokens are looked up once per 5 s, not on every request: the lookup was one of the few
 * statements of each entity write (~13 per custom action end to end).
 */
const TOKEN_CACHE_MS = 5000;
const TOKEN_CACHE_MAX = 1000;

export class Authenticator {
  private readonly admin: Buffer;
  private readonly tokens = new Map<string, { row: ApiTokenRow | undefined; at: number }>();

  constructor(
    private readonly store: Store,
    private readonly accessTokens: AccessTokens,
    adminToken: string,
  ) {
    this.admin = Buffer.from(hashToken(adminToken), 'hex');
  }

  /** Resolves the `authorization: Bearer …` header; throws 401 when it is missing or invalid. */
  async authenticate(header: string | undefined): Promise<Principal> {
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match?.[1]) throw unauthorized('missing authorization: Bearer <token>');
    const token = match[1];
    if (token.startsWith('abt_')) {
      const row = await this.apiToken(hashToken(token));
      if (!row) throw unauthorized('unknown API token');
      return { kind: 'org', org_id: row.org_id, role: row.role, token_id: row.id };
    }
    if (token.startsWith('ey')) {
      const claims = await this.accessTokens.verify(token);
      const inst = await this.store.getInstallation(claims.org_id, claims.app_id);
      if (!inst) throw forbidden('the app of this access token is not installed in its org');
      const version = await this.store.getAppVersion(inst.app_id, inst.version);
      return {
        kind: 'app',
        org_id: claims.org_id,
        app_id: claims.app_id,
        execution_id: claims.execution_id,
        grants: version?.manifest.permissions ?? [],
      };
    }
    if (timingSafeEqual(Buffer.from(hashToken(token), 'hex'), this.admin)) return { kind: 'admin' };
    throw unauthorized('invalid token');
  }

  private async apiToken(hash: string): Promise<ApiTokenRow | undefined> {
    const now = Date.now();
    const hit = this.tokens.get(hash);
    if (hit && now - hit.at < TOKEN_CACHE_MS) return hit.row;
    const row = await this.store.findApiToken(hash);
    if (this.tokens.size >= TOKEN_CACHE_MAX) this.tokens.clear();
    // Unknown tokens are not cached: a token created a moment later must work at once.
    if (row) this.tokens.set(hash, { row, at: now });
    return row;
  }
}

/** The grants a principal holds on the entity API of its org. */
export function grantsOf(p: Principal): readonly Grant[] {
  if (p.kind === 'app') return p.grants;
  if (p.kind === 'org') return ALL;
  return [];
}

/** The org a principal acts in; the admin acts in none. */
export function orgOf(p: Principal): string {
  if (p.kind === 'admin') throw forbidden('the platform admin token does not act inside an org: use an org API token');
  return p.org_id;
}

/** Orgs' own APIs (flows, apps, installations, deliveries) are for org tokens, not app tokens. */
export function requireOrgToken(p: Principal): string {
  if (p.kind === 'app') throw forbidden('app access tokens may only use the entity API');
  return orgOf(p);
}

export function requireAdmin(p: Principal): void {
  if (p.kind !== 'admin') throw forbidden('this route needs the platform admin token');
}
