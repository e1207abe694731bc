import { exportJWK, type JWTPayload, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { unauthorized } from '../domain/errors.js';
import { newUuid } from '../util/ids.js';
import type { KeyRing } from './keyring.js';

/** Lifetime of an `x-epilot-token` (SPEC §1): exactly 600 seconds. */
export const ACCESS_TOKEN_TTL_S = 600;

export interface AppTokenClaims extends JWTPayload {
  token_type: 'app';
  org_id: string;
  app_id: string;
  assume_roles: string[];
  execution_id: string;
}

/** Issues and checks the short-lived app access tokens (EdDSA JWTs). */
export class AccessTokens {
  constructor(
    private readonly ring: KeyRing,
    /** The issuer (the platform's public URL); a function because it is known only once the server listens. */
    private readonly issuer: () => string,
  ) {}

  async mint(ctx: { org_id: string; app_id: string; execution_id: string }): Promise<string> {
    const key = this.ring.primary();
    const iat = Math.floor(Date.now() / 1000);
    return new SignJWT({
      token_type: 'app',
      org_id: ctx.org_id,
      app_id: ctx.app_id,
      assume_roles: [`${ctx.org_id}:app-${ctx.app_id}`],
      execution_id: ctx.execution_id,
    })
      .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'JWT' })
      .setIssuer(this.issuer())
      .setIssuedAt(iat)
      .setExpirationTime(iat + ACCESS_TOKEN_TTL_S)
      .setJti(newUuid())
      .sign(key.privateKey);
  }

  /** Verifies signature, issuer and expiry; throws an `unauthorized` DomainError saying which check failed. */
  async verify(token: string): Promise<AppTokenClaims> {
    try {
      const { payload } = await jwtVerify(
        token,
        async (header) => {
          if (!header.kid) throw unauthorized('access token has no kid');
          if (!this.ring.find(header.kid)) await this.ring.reloadIfStale();
          const key = this.ring.find(header.kid);
          if (!key) throw unauthorized('access token signed by an unknown key');
          return key.publicKey;
        },
        { issuer: this.issuer(), algorithms: ['EdDSA'], requiredClaims: ['exp', 'iat', 'jti'] },
      );
      if (payload.token_type !== 'app' || typeof payload.org_id !== 'string' || typeof payload.app_id !== 'string') {
        throw unauthorized('access token is not an app token');
      }
      return payload as AppTokenClaims;
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw unauthorized('access token expired');
      if (err instanceof joseErrors.JOSEError) throw unauthorized(`invalid access token: ${err.code}`);
      throw err;
    }
  }

  async jwks() {
    const keys = [];
    for (const k of this.ring.active()) {
      keys.push({ ...(await exportJWK(k.publicKey)), kid: k.kid, alg: 'EdDSA', use: 'sig' });
    }
    return { keys };
  }
}
