import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Addresses a delivery may not reach unless allowed: loopback, private, link-local (cloud metadata
 * lives at 169.254.169.254), carrier-grade NAT, multicast and reserved ranges. An app's URL is
 * another tenant's input: without this, a manifest could make the platform call its own network.
 *
 * IPv6 forms that carry an IPv4 address (SPEC §6):
 * - IPv4-mapped `::ffff:a.b.c.d` is that IPv4 address on a dual-stack socket: judged as the IPv4.
 * - NAT64 `64:ff9b::a.b.c.d` (RFC 6052) is judged by the IPv4 it embeds: DNS64 synthesizes these
 *   for every IPv4-only host when the platform runs on an IPv6-only network, so refusing the public
 *   ones would stop all deliveries there, while an embedded internal IPv4 is refused like the IPv4.
 * - Refused whole, whatever they embed: IPv4-compatible `::/96`, NAT64 local-use `64:ff9b:1::/48`
 *   (where the IPv4 sits in it depends on the network), 6to4 `2002::/16` (deprecated by RFC 7526;
 *   a host with a 6to4 interface sends it straight to the embedded IPv4, and no receiver needs it),
 *   Teredo `2001::/32` (a tunnel to an obfuscated IPv4). Site-local `fec0::/10` too.
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
  // Reserved by the IETF: unspecified ::, loopback ::1, IPv4-compatible ::/96, IPv4-translated
  // ::ffff:0:0:0/96, NAT64 local-use 64:ff9b:1::/48. (IPv4-mapped and NAT64 64:ff9b::/96, inside it
  // too, are judged by their IPv4 before this list is consulted.)
  ['::', 8, 'ipv6'],
  ['2001::', 32, 'ipv6'],
  ['2002::', 16, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  // Site-local (deprecated by RFC 3879; some networks still route it as private).
  ['fec0::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];

/** The eight 16-bit groups of an IPv6 address that `isIP` accepted (a trailing dotted IPv4 allowed). */
function ipv6Groups(ip: string): number[] {
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  const [head, tail] = (dotted ? `${ip.slice(0, dotted.index)}0:0` : ip).split('::');
  const front = head ? head.split(':') : [];
  const back = tail ? tail.split(':') : [];
  // Without `::` the address has all eight groups and nothing is filled in.
  const zeros = Array<string>(8 - front.length - back.length).fill('0');
  const groups = [...front, ...zeros, ...back].map((g) => Number.parseInt(g, 16));
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    groups.splice(6, 2, a * 256 + b, c * 256 + d);
  }
  return groups;
}

/** The IPv4 address an IPv4-mapped (`::ffff:0:0/96`) or NAT64 (`64:ff9b::/96`) address stands for. */
function embeddedIpv4(ip: string): string | undefined {
  const g = ipv6Groups(ip);
  const mapped = g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff;
  const nat64 = g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0);
  if (!mapped && !nat64) return undefined;
  const [hi, lo] = g.slice(6) as [number, number];
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

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
  // One list per family: Node matches an IPv4 address against IPv6 rules as ::ffff:a.b.c.d, which ::/8 holds.
  private readonly internal = { ipv4: new BlockList(), ipv6: new BlockList() };
  private readonly allowed = { ipv4: new BlockList(), ipv6: new BlockList() };

  constructor(
    readonly allow: readonly string[] = [],
    /** How host names are resolved (a stand-in for DNS in tests). */
    private readonly resolve: LookupFunction = dnsLookup,
  ) {
    for (const [addr, prefix, type] of INTERNAL) this.internal[type].addSubnet(addr, prefix, type);
    for (const cidr of allow) {
      const [addr = '', prefix = ''] = cidr.split('/');
      const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
      this.allowed[type].addSubnet(addr, Number(prefix), type);
    }
  }

  /** Verdicts by address: a delivery to an IP literal asks for each attempt (bounded: cleared when full). */
  private readonly verdicts = new Map<string, string | undefined>();

  /** Why `address` is refused, or `undefined` when it may be reached. */
  deny(address: string): string | undefined {
    if (this.verdicts.has(address)) return this.verdicts.get(address);
    const why = this.judge(address);
    if (this.verdicts.size >= 4096) this.verdicts.clear();
    this.verdicts.set(address, why);
    return why;
  }

  private judge(address: string): string | undefined {
    // A zone (`fe80::1%eth0`) names the interface, not the address.
    const ip = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
    const family = isIP(ip);
    if (family === 0) return `${ip} is not an IP address`;
    const v4 = family === 4 ? ip : embeddedIpv4(ip);
    if (v4 !== undefined) {
      if (!this.internal.ipv4.check(v4, 'ipv4') || this.allowed.ipv4.check(v4, 'ipv4')) return undefined;
      if (v4 !== ip && this.allowed.ipv6.check(ip, 'ipv6')) return undefined;
      const shown = v4 === ip ? ip : `${ip} (${v4})`;
      return `${shown} is an internal address; allow it with ACTIONBRIDGE_EGRESS_ALLOW (e.g. ${v4}/32)`;
    }
    if (!this.internal.ipv6.check(ip, 'ipv6') || this.allowed.ipv6.check(ip, 'ipv6')) return undefined;
    return `${ip} is an internal address; allow it with ACTIONBRIDGE_EGRESS_ALLOW (e.g. ${ip}/128)`;
  }

  /** A `lookup` for sockets that refuses internal addresses after DNS resolution (no rebinding window). */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    this.resolve(hostname, options, (err, address: string | LookupAddress[], family?: number) => {
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
