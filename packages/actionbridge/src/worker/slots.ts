import type { ClaimCaps } from '../store/queue/claimDeliveries.js';

/**
 * The process's delivery slots, shared fairly. Each endpoint origin holds at most `perOrigin`
 * (default 16), so a hanging endpoint only ever ties up its own share; each org holds at most an
 * equal share of the process with room kept for one more org — `ceil(total / (orgs in flight + 1))`
 * — so a newcomer always finds free slots. Work over a cap is not claimed: it waits in the store.
 */
export class Slots {
  private used = 0;
  private readonly byOrg = new Map<string, number>();
  private readonly byOrigin = new Map<string, number>();

  constructor(
    readonly total: number,
    readonly perOrigin: number,
  ) {}

  get inFlight(): number {
    return this.used;
  }

  caps(): ClaimCaps {
    const orgCap = Math.max(1, Math.ceil(this.total / (this.byOrg.size + 1)));
    const orgFree = new Map<string, number>();
    for (const [org, n] of this.byOrg) orgFree.set(org, Math.max(0, orgCap - n));
    const originFree = new Map<string, number>();
    for (const [origin, n] of this.byOrigin) originFree.set(origin, Math.max(0, this.perOrigin - n));
    return { limit: this.total - this.used, orgCap, originCap: this.perOrigin, orgFree, originFree };
  }

  /**
   * Takes a slot if one is free for `org` and `origin` within the caps (as a claim would see them):
   * for work handed over in memory at creation, which the store never has to be asked for.
   */
  tryTake(org: string, origin: string): boolean {
    if (this.used >= this.total) return false;
    if ((this.byOrigin.get(origin) ?? 0) >= this.perOrigin) return false;
    // The same share `caps()` gives a claim: room kept for one more org.
    if ((this.byOrg.get(org) ?? 0) >= Math.max(1, Math.ceil(this.total / (this.byOrg.size + 1)))) return false;
    this.take(org, origin);
    return true;
  }

  take(org: string, origin: string): void {
    this.used++;
    this.byOrg.set(org, (this.byOrg.get(org) ?? 0) + 1);
    this.byOrigin.set(origin, (this.byOrigin.get(origin) ?? 0) + 1);
  }

  release(org: string, origin: string): void {
    this.used--;
    dec(this.byOrg, org);
    dec(this.byOrigin, origin);
  }
}

function dec(m: Map<string, number>, k: string): void {
  const n = (m.get(k) ?? 1) - 1;
  if (n <= 0) m.delete(k);
  else m.set(k, n);
}
