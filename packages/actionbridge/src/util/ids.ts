import { randomBytes, randomUUID } from 'node:crypto';

export const newUuid = (): string => randomUUID();
/** `<prefix>_<hex>` identifiers; `msg_` + 32 lowercase hex for `webhook-id` (SPEC §1). */
export const newId = (prefix: string, bytes = 16): string => `${prefix}_${randomBytes(bytes).toString('hex')}`;
export const nowIso = (): string => new Date().toISOString();
