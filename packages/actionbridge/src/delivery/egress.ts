import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Addresses a delivery may not reach unless allowed: loopback, private, link-local (cloud metadata
 * lives at 169.254.169.254), carrier-grade NAT, multicast and reserved ranges. An app's URL is
 * another tenant's input: without this, a manifest could make the platform call its own network.
 */
const INTERNAL: ReadonlyArray<[string, number, 'ipv4' | 'ipv6']> = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['224.0.0.0', 3, 'ipv4'],
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];

/** A delivery was refused because its address is internal and not allowed. */
export class EgressDeniedError extends Error {
  readonly code = 'ERR_EGRESS_DENIED';
}

/** Parses `ACTIONBRIDGE_EGRESS_ALLOW`: comma-separated CIDRs (or bare addresses). Throws a TypeError naming the bad entry. */
export function parseCidrs(value: string): string[] {
  const out: string[] = [];
  for (const raw of value.split(',')) {
    const entry = raw.trim();
    if (!entry) continue;
    const [addr = '', prefix] = entry.split('/');
    const family = isIP(addr);
    const max = family === 6 ? 128 : 32;
    if (!family || (prefix !== undefined && (!/^\d+$/.test(prefix) || Number(prefix) > max))) {
      throw new TypeError(`"${entry}" is not a CIDR like 10.0.0.0/8 or fd00::/8`);
    }
    out.push(prefix === undefined ? `${addr}/${max}` : entry);
  }
  return out;
}

/** Which addresses deliveries may connect to: public ones, plus internal ones in the allow-list. */
export class EgressPolicy {
  private readonly internal = new BlockList();
  private readonly allowed = new BlockList();

  constructor(readonly allow: readonly string[] = []) {
    for (const [addr, prefix, type] of INTERNAL) this.internal.addSubnet(addr, prefix, type);
    for (const cidr of allow) {
      const [addr = '', prefix = ''] = cidr.split('/');
      this.allowed.addSubnet(addr, Number(prefix), isIP(addr) === 6 ? 'ipv6' : 'ipv4');
    }
  }

  /** Why `address` is refused, or `undefined` when it may be reached. */
  deny(address: string): string | undefined {
    let ip = address.replace(/^\[|\]$/g, '');
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
    if (mapped?.[1]) ip = mapped[1];
    const type = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (!this.internal.check(ip, type) || this.allowed.check(ip, type)) return undefined;
    return `${ip} is an internal address; allow it with ACTIONBRIDGE_EGRESS_ALLOW (e.g. ${ip}/${type === 'ipv6' ? 128 : 32})`;
  }

  /** A `lookup` for sockets that refuses internal addresses after DNS resolution (no rebinding window). */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, options, (err, address: string | LookupAddress[], family?: number) => {
      if (err) return callback(err, address as string, family);
      if (!Array.isArray(address)) {
        const why = this.deny(address);
        return why
          ? callback(new EgressDeniedError(`${hostname} resolves to ${why}`), '', 0)
          : callback(null, address, family ?? 4);
      }
      // Several addresses: connect only to the allowed ones.
      const ok = address.filter((a) => !this.deny(a.address));
      const why = ok.length === 0 && address[0] ? this.deny(address[0].address) : undefined;
      if (why) return callback(new EgressDeniedError(`${hostname} resolves to ${why}`), '', 0);
      return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, ok);
    });
  };
}
