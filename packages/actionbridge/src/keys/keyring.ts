import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { toWhpk } from '@actionbridge/app-sdk';
import type { SigningKeyRow, Store } from '../store/store.js';
import { newId, nowIso } from '../util/ids.js';

export interface LoadedKey {
  kid: string;
  status: 'primary' | 'retiring';
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicPem: string;
  created_at: string;
  retire_at: string | null;
}

/** How long a replaced key keeps signing next to the new primary. */
export const DEFAULT_RETIRE_AFTER_MS = 7 * 24 * 3600 * 1000;

/**
 * The Ed25519 keys of one purpose (`webhook` signatures or `token` JWTs). Created on first start,
 * persisted, parsed once into `KeyObject`s (parsing a PEM per call halves sign/verify speed).
 */
export class KeyRing {
  private keys: LoadedKey[] = [];
  private lastOnDemand = 0;

  private constructor(
    private readonly store: Store,
    readonly purpose: SigningKeyRow['purpose'],
  ) {}

  static async open(store: Store, purpose: SigningKeyRow['purpose']): Promise<KeyRing> {
    const ring = new KeyRing(store, purpose);
    await store.transaction(async (tx) => {
      if ((await tx.listSigningKeys(purpose)).length === 0) await tx.insertSigningKey(generate(purpose, 'primary'));
    });
    await ring.reload();
    return ring;
  }

  /** Re-reads the keys (another process may have rotated them) and retires expired ones. */
  async reload(): Promise<void> {
    const now = Date.now();
    const rows = await this.store.listSigningKeys(this.purpose);
    const keys: LoadedKey[] = [];
    for (const row of rows) {
      if (row.status === 'retiring' && row.retire_at && Date.parse(row.retire_at) <= now) {
        await this.store.updateSigningKey(row.kid, { status: 'retired', retire_at: row.retire_at });
        continue;
      }
      const cached = this.keys.find((k) => k.kid === row.kid);
      const privateKey = cached?.privateKey ?? createPrivateKey(row.private_pem);
      keys.push({
        kid: row.kid,
        status: row.status === 'primary' ? 'primary' : 'retiring',
        privateKey,
        publicKey: cached?.publicKey ?? createPublicKey(privateKey),
        publicPem: row.public_pem,
        created_at: row.created_at,
        retire_at: row.retire_at,
      });
    }
    keys.sort((a, b) =>
      a.status === b.status ? b.created_at.localeCompare(a.created_at) : a.status === 'primary' ? -1 : 1,
    );
    this.keys = keys;
  }

  /**
   * Reloads for a key id this process has not seen (another process sharing the database rotated),
   * at most once per `minIntervalMs`, so junk ids cannot hammer the database.
   */
  async reloadIfStale(minIntervalMs = 1000): Promise<void> {
    if (Date.now() - this.lastOnDemand < minIntervalMs) return;
    this.lastOnDemand = Date.now();
    await this.reload();
  }

  /** Active keys, primary first. */
  active(): readonly LoadedKey[] {
    const now = Date.now();
    return this.keys.filter((k) => !k.retire_at || Date.parse(k.retire_at) > now);
  }

  primary(): LoadedKey {
    const k = this.keys.find((x) => x.status === 'primary');
    if (!k) throw new Error(`no primary ${this.purpose} key`);
    return k;
  }

  find(kid: string): LoadedKey | undefined {
    return this.active().find((k) => k.kid === kid);
  }

  /** A new primary key; the old primary keeps signing until `retireAfterMs` has passed. */
  async rotate(retireAfterMs = DEFAULT_RETIRE_AFTER_MS): Promise<LoadedKey> {
    const retireAt = new Date(Date.now() + retireAfterMs).toISOString();
    await this.store.transaction(async (tx) => {
      for (const row of await tx.listSigningKeys(this.purpose)) {
        if (row.status === 'primary') await tx.updateSigningKey(row.kid, { status: 'retiring', retire_at: retireAt });
      }
      await tx.insertSigningKey(generate(this.purpose, 'primary'));
    });
    await this.reload();
    return this.primary();
  }

  /** The public view of one key, as the well-known endpoints show it. */
  static describe(k: LoadedKey) {
    return {
      kid: k.kid,
      algorithm: 'ed25519',
      public_key: k.publicPem,
      whpk: toWhpk(k.publicKey),
      status: k.status,
      created_at: k.created_at,
      retire_at: k.retire_at,
    };
  }
}

function generate(purpose: SigningKeyRow['purpose'], status: 'primary'): SigningKeyRow {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    kid: newId(purpose === 'webhook' ? 'whk' : 'atk', 8),
    purpose,
    private_pem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    public_pem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    status,
    created_at: nowIso(),
    retire_at: null,
  };
}
