import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { describe, it } from 'node:test';
import { EgressDeniedError, EgressPolicy, parseCidrs } from './egress.js';

const strict = new EgressPolicy();
const refused = (address: string, policy = strict) => policy.deny(address) !== undefined;

/**
 * Every internal IPv4 range: its first and last address, and the public neighbours just outside it
 * (none below 0.0.0.0/8, none above 224.0.0.0/3).
 */
const V4_RANGES: Array<{ cidr: string; first: string; last: string; outside: string[] }> = [
  { cidr: '0.0.0.0/8', first: '0.0.0.0', last: '0.255.255.255', outside: ['1.0.0.0'] },
  { cidr: '10.0.0.0/8', first: '10.0.0.0', last: '10.255.255.255', outside: ['9.255.255.255', '11.0.0.0'] },
  {
    cidr: '100.64.0.0/10',
    first: '100.64.0.0',
    last: '100.127.255.255',
    outside: ['100.63.255.255', '100.128.0.0'],
  },
  { cidr: '127.0.0.0/8', first: '127.0.0.0', last: '127.255.255.255', outside: ['126.255.255.255', '128.0.0.0'] },
  {
    cidr: '169.254.0.0/16',
    first: '169.254.0.0',
    last: '169.254.255.255',
    outside: ['169.253.255.255', '169.255.0.0'],
  },
  { cidr: '172.16.0.0/12', first: '172.16.0.0', last: '172.31.255.255', outside: ['172.15.255.255', '172.32.0.0'] },
  { cidr: '192.0.0.0/24', first: '192.0.0.0', last: '192.0.0.255', outside: ['191.255.255.255', '192.0.1.0'] },
  {
    cidr: '192.168.0.0/16',
    first: '192.168.0.0',
    last: '192.168.255.255',
    outside: ['192.167.255.255', '192.169.0.0'],
  },
  { cidr: '198.18.0.0/15', first: '198.18.0.0', last: '198.19.255.255', outside: ['198.17.255.255', '198.20.0.0'] },
  { cidr: '224.0.0.0/3', first: '224.0.0.0', last: '255.255.255.255', outside: ['223.255.255.255'] },
];

/** The IPv6 ranges refused whatever they hold; `outside` lists global unicast neighbours only. */
const V6_RANGES: Array<{ cidr: string; first: string; last: string; outside: string[] }> = [
  { cidr: '::/8', first: '::', last: 'ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', outside: [] },
  {
    cidr: '2001::/32 (Teredo)',
    first: '2001::',
    last: '2001:0:ffff:ffff:ffff:ffff:ffff:ffff',
    outside: ['2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '2001:1::'],
  },
  {
    cidr: '2002::/16 (6to4)',
    first: '2002::',
    last: '2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    outside: ['2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '2003::'],
  },
  { cidr: 'fc00::/7', first: 'fc00::', last: 'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', outside: [] },
  { cidr: 'fe80::/10', first: 'fe80::', last: 'febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff', outside: [] },
  { cidr: 'fec0::/10 (site-local)', first: 'fec0::', last: 'feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', outside: [] },
  { cidr: 'ff00::/8', first: 'ff00::', last: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', outside: [] },
];

/** The same IPv4 address as IPv4-mapped (dotted and hex) and as NAT64 well-known-prefix IPv6. */
function v6Forms(v4: string): string[] {
  const [a = 0, b = 0, c = 0, d = 0] = v4.split('.').map(Number);
  const hex = `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  return [`::ffff:${v4}`, `::ffff:${hex}`, `[::ffff:${hex}]`, `64:ff9b::${v4}`, `64:ff9b::${hex}`];
}

describe('egress policy: addresses', () => {
  for (const r of V4_RANGES)
    it(`refuses ${r.cidr} from ${r.first} to ${r.last}, and no further`, () => {
      for (const ip of [r.first, r.last]) assert.ok(refused(ip), `${ip} is refused`);
      for (const ip of r.outside) assert.equal(strict.deny(ip), undefined, `${ip} is public`);
    });

  for (const r of V6_RANGES)
    it(`refuses ${r.cidr} from ${r.first} to ${r.last}${r.outside.length ? ', and no further' : ''}`, () => {
      for (const ip of [r.first, r.last]) assert.ok(refused(ip), `${ip} is refused`);
      for (const ip of r.outside) assert.equal(strict.deny(ip), undefined, `${ip} is public`);
    });

  it('judges IPv4-mapped and NAT64 (64:ff9b::/96) addresses by the IPv4 address they carry', () => {
    for (const r of V4_RANGES) {
      for (const ip of [r.first, r.last].flatMap(v6Forms)) assert.ok(refused(ip), `${ip} is refused`);
      for (const ip of r.outside.flatMap(v6Forms)) assert.equal(strict.deny(ip), undefined, `${ip} is public`);
    }
    // Written out in full, in capitals, and with the IPv4 part spelled differently.
    assert.ok(refused('0:0:0:0:0:FFFF:A9FE:A9FE'));
    assert.ok(refused('0064:ff9b:0000:0000:0000:0000:0a00:0001'));
    assert.equal(strict.deny('0064:FF9B:0:0:0:0:5DB8:D822'), undefined);
  });

  it('reads the IPv4 only from exactly ::ffff:0:0/96 and 64:ff9b::/96', () => {
    // Public IPv6 addresses whose low bits happen to look like a mapped or NAT64 loopback.
    assert.equal(strict.deny('2606:4700::ffff:7f00:1'), undefined);
    assert.equal(strict.deny('2606:4700:0:0:0:ffff:7f00:1'), undefined);
    assert.equal(strict.deny('2606:ff9b::7f00:1'), undefined);
    assert.equal(strict.deny('2064:ff9b::7f00:1'), undefined);
    // Reserved ::/8 addresses that are not the NAT64 prefix, even when they carry a public IPv4.
    for (const ip of ['64:1::5db8:d822', '65:ff9b::5db8:d822', '0:ff9b::5db8:d822', '::fffe:5db8:d822'])
      assert.equal(
        strict.deny(ip),
        `${ip} is an internal address; allow it with ACTIONBRIDGE_EGRESS_ALLOW (e.g. ${ip}/128)`,
        ip,
      );
    // The prefix alone carries 0.0.0.0.
    assert.equal(
      strict.deny('64:ff9b::'),
      '64:ff9b:: (0.0.0.0) is an internal address; allow it with ACTIONBRIDGE_EGRESS_ALLOW (e.g. 0.0.0.0/32)',
    );
    assert.equal(
      strict.deny('::ffff:0:0'),
      '::ffff:0:0 (0.0.0.0) is an internal address; allow it with ACTIONBRIDGE_EGRESS_ALLOW (e.g. 0.0.0.0/32)',
    );
  });

  it('lets public addresses through, in both families', () => {
    for (const ip of ['93.184.216.34', '8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e'])
      assert.equal(strict.deny(ip), undefined, ip);
    assert.equal(strict.deny('[2606:4700:4700::1111]'), undefined, 'a URL host keeps its brackets');
  });

  it('refuses IPv6 forms that embed an IPv4, even a public one, unless allow-listed', () => {
    // 93.184.216.34 is 5db8:d822; 127.0.0.1 is 7f00:1.
    const forms = [
      ['IPv4-compatible of a public IPv4', '::93.184.216.34'],
      ['IPv4-compatible of loopback', '::7f00:1'],
      ['IPv4-translated (RFC 2765)', '::ffff:0:5db8:d822'],
      ['NAT64 local-use prefix, public IPv4', '64:ff9b:1::5db8:d822'],
      ['NAT64 local-use prefix, loopback', '64:ff9b:1:ffff:ffff:ffff:7f00:1'],
      ['NAT64 with non-zero suffix bits (not the /96)', '64:ff9b::1:5db8:d822'],
      ['6to4 of a public IPv4', '2002:5db8:d822::1'],
      ['6to4 of loopback', '2002:7f00:1::1'],
      ['6to4 of a private IPv4', '2002:c0a8:101::1'],
      ['Teredo', '2001:0:4136:e378:8000:63bf:3fff:fdd2'],
      ['site-local', 'fec0::1'],
    ];
    for (const [what, ip] of forms as Array<[string, string]>) {
      assert.equal(
        strict.deny(ip),
        `${ip} is an internal address; allow it with ACTIONBRIDGE_EGRESS_ALLOW (e.g. ${ip}/128)`,
        what,
      );
    }
    const allowAll = new EgressPolicy(['::/8', '2001::/32', '2002::/16', 'fec0::/10']);
    for (const [what, ip] of forms as Array<[string, string]>) assert.equal(allowAll.deny(ip), undefined, what);
  });

  it('refuses loopback and unspecified in both families, and what is not an address at all', () => {
    for (const ip of ['127.0.0.1', '0.0.0.0', '::1', '::', '[::1]', '0:0:0:0:0:0:0:1']) assert.ok(refused(ip), ip);
    assert.equal(strict.deny('example.com'), 'example.com is not an IP address');
    assert.equal(strict.deny(''), ' is not an IP address');
    assert.equal(strict.deny('127.1'), '127.1 is not an IP address');
  });

  it('ignores an IPv6 zone: the address decides', () => {
    assert.equal(
      strict.deny('fe80::1%eth0'),
      'fe80::1 is an internal address; allow it with ACTIONBRIDGE_EGRESS_ALLOW (e.g. fe80::1/128)',
    );
    assert.equal(
      strict.deny('::ffff:127.0.0.1%lo'),
      '::ffff:127.0.0.1 (127.0.0.1) is an internal address; allow it with ACTIONBRIDGE_EGRESS_ALLOW (e.g. 127.0.0.1/32)',
    );
    assert.ok(refused('fd00::1%2'));
    assert.equal(strict.deny('2606:4700::1%eth0'), undefined);
  });

  it('says what was refused and how to allow it', () => {
    assert.equal(
      strict.deny('10.0.0.1'),
      '10.0.0.1 is an internal address; allow it with ACTIONBRIDGE_EGRESS_ALLOW (e.g. 10.0.0.1/32)',
    );
    assert.equal(
      strict.deny('fd00::1'),
      'fd00::1 is an internal address; allow it with ACTIONBRIDGE_EGRESS_ALLOW (e.g. fd00::1/128)',
    );
    assert.equal(
      strict.deny('::ffff:a9fe:a9fe'),
      '::ffff:a9fe:a9fe (169.254.169.254) is an internal address; allow it with ACTIONBRIDGE_EGRESS_ALLOW (e.g. 169.254.169.254/32)',
    );
    assert.equal(
      strict.deny('[64:ff9b::10.1.2.3]'),
      '64:ff9b::10.1.2.3 (10.1.2.3) is an internal address; allow it with ACTIONBRIDGE_EGRESS_ALLOW (e.g. 10.1.2.3/32)',
    );
  });
});

describe('egress policy: the allow-list', () => {
  it('allows exactly the listed internal ranges', () => {
    const policy = new EgressPolicy(parseCidrs('10.1.0.0/16, 127.0.0.1, fd00:1::/32'));
    assert.equal(policy.deny('10.1.0.0'), undefined);
    assert.equal(policy.deny('10.1.255.255'), undefined);
    assert.ok(refused('10.0.255.255', policy));
    assert.ok(refused('10.2.0.0', policy));
    assert.equal(policy.deny('127.0.0.1'), undefined);
    assert.ok(refused('127.0.0.2', policy));
    assert.equal(policy.deny('fd00:1::1'), undefined);
    assert.equal(policy.deny('fd00:1:ffff:ffff:ffff:ffff:ffff:ffff'), undefined);
    assert.ok(refused('fd00:2::', policy));
    assert.deepEqual(policy.allow, ['10.1.0.0/16', '127.0.0.1/32', 'fd00:1::/32']);
  });

  it('an allowed IPv4 is allowed in its IPv4-mapped and NAT64 forms too', () => {
    const policy = new EgressPolicy(['10.1.0.0/16']);
    for (const ip of v6Forms('10.1.2.3')) assert.equal(policy.deny(ip), undefined, ip);
    for (const ip of v6Forms('10.2.0.1')) assert.ok(refused(ip, policy), ip);
  });

  it('allowing the NAT64 prefix lets its internal IPv4s through', () => {
    const policy = new EgressPolicy(['64:ff9b::/96']);
    assert.equal(policy.deny('64:ff9b::10.0.0.1'), undefined);
    assert.ok(refused('10.0.0.1', policy), 'the IPv4 itself is still refused');
    assert.ok(refused('::ffff:10.0.0.1', policy), 'and so is its IPv4-mapped form');
  });

  it('keeps the families apart: an IPv6 entry never allows an IPv4 address, nor the reverse', () => {
    // Node's BlockList matches IPv4 against IPv6 rules as ::ffff:a.b.c.d, which ::/8 holds.
    const v6 = new EgressPolicy(['::/8', '::ffff:0:0/96']);
    for (const ip of ['10.0.0.1', '127.0.0.1', '169.254.169.254']) assert.ok(refused(ip, v6), ip);
    const v4 = new EgressPolicy(['0.0.0.0/0']);
    for (const ip of ['::1', 'fd00::1', '2002:7f00:1::1']) assert.ok(refused(ip, v4), ip);
    assert.equal(v4.deny('10.0.0.1'), undefined);
  });

  it('parses ACTIONBRIDGE_EGRESS_ALLOW and names a bad entry', () => {
    assert.deepEqual(parseCidrs(''), []);
    assert.deepEqual(parseCidrs(' , 10.0.0.0/8 ,'), ['10.0.0.0/8']);
    assert.deepEqual(parseCidrs('::1,fd00::/128,0.0.0.0/0'), ['::1/128', 'fd00::/128', '0.0.0.0/0']);
    for (const bad of [
      '10.0.0.0/33',
      'fd00::/129',
      '10.0.0.0/',
      '10.0.0.0/8x',
      '10.0.0.0/-1',
      'example.com',
      '10.0.0/8',
    ])
      assert.throws(
        () => parseCidrs(`127.0.0.1,${bad}`),
        (e: Error) => e instanceof TypeError && e.message === `"${bad}" is not a CIDR like 10.0.0.0/8 or fd00::/8`,
        bad,
      );
  });
});

/** A DNS stand-in answering with fixed addresses (or an error), as `dns.lookup` would. */
function resolver(answer: LookupAddress[] | Error): LookupFunction {
  return (_hostname, options, callback) => {
    if (answer instanceof Error) return callback(answer as NodeJS.ErrnoException, '', 0);
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, answer);
    return callback(null, answer[0]?.address ?? '', answer[0]?.family ?? 4);
  };
}

function lookup(policy: EgressPolicy, hostname: string, all: boolean) {
  return new Promise<{ err: NodeJS.ErrnoException | null; address: unknown; family?: number | undefined }>((resolve) =>
    policy.lookup(hostname, { all }, (err, address, family) => resolve({ err, address, family })),
  );
}

describe('egress policy: lookup after DNS', () => {
  it('refuses a host name that resolves to an internal address (real DNS: localhost)', async () => {
    for (const all of [false, true]) {
      const { err } = await lookup(strict, 'localhost', all);
      assert.ok(err instanceof EgressDeniedError);
      assert.equal(err.code, 'ERR_EGRESS_DENIED');
      assert.match(err.message, /^localhost resolves to 127\.0\.0\.1 is an internal address; allow it/);
    }
  });

  it('passes a public address on, as one address or as a list (real DNS: IP literals)', async () => {
    assert.deepEqual(await lookup(strict, '93.184.216.34', false), {
      err: null,
      address: '93.184.216.34',
      family: 4,
    });
    const list = await lookup(strict, '93.184.216.34', true);
    assert.equal(list.err, null);
    assert.deepEqual(list.address, [{ address: '93.184.216.34', family: 4 }]);
    const allowed = await lookup(new EgressPolicy(['127.0.0.0/8']), 'localhost', false);
    assert.deepEqual(allowed, { err: null, address: '127.0.0.1', family: 4 });
  });

  it('connects only to the allowed addresses of a host that resolves to several', async () => {
    const mixed = new EgressPolicy(
      [],
      resolver([
        { address: '10.0.0.1', family: 4 },
        { address: '93.184.216.34', family: 4 },
        { address: '64:ff9b::a9fe:a9fe', family: 6 },
        { address: '2606:4700::1', family: 6 },
      ]),
    );
    const { err, address } = await lookup(mixed, 'rebind.example', true);
    assert.equal(err, null);
    assert.deepEqual(address, [
      { address: '93.184.216.34', family: 4 },
      { address: '2606:4700::1', family: 6 },
    ]);
    const single = await lookup(mixed, 'rebind.example', false);
    assert.ok(single.err instanceof EgressDeniedError, 'the first address alone is internal');
    assert.equal(single.address, '');
    assert.equal(
      single.err.message,
      'rebind.example resolves to 10.0.0.1 is an internal address; allow it with ACTIONBRIDGE_EGRESS_ALLOW (e.g. 10.0.0.1/32)',
    );
  });

  it('refuses a host whose every address is internal, naming the first', async () => {
    const internal = new EgressPolicy(
      [],
      resolver([
        { address: 'fd00::7', family: 6 },
        { address: '192.168.1.1', family: 4 },
      ]),
    );
    const { err, address } = await lookup(internal, 'intranet.example', true);
    assert.ok(err instanceof EgressDeniedError);
    assert.equal(
      err.message,
      'intranet.example resolves to fd00::7 is an internal address; allow it with ACTIONBRIDGE_EGRESS_ALLOW (e.g. fd00::7/128)',
    );
    assert.equal(address, '');
  });

  it('keeps an IPv6 answer’s family', async () => {
    const v6 = new EgressPolicy([], resolver([{ address: '2606:4700::1', family: 6 }]));
    assert.deepEqual(await lookup(v6, 'v6.example', false), { err: null, address: '2606:4700::1', family: 6 });
  });

  it('passes DNS errors through untouched', async () => {
    const failure = Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.example'), { code: 'ENOTFOUND' });
    const { err } = await lookup(new EgressPolicy([], resolver(failure)), 'nowhere.example', false);
    assert.equal(err, failure);
  });
});
