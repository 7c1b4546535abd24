// Where a confined sandbox's traffic may go, decided per destination address by
// the egress proxy (egress-proxy.ts) after it has resolved the name itself: the
// address checked is the address connected to, so a name that resolves to the
// host's loopback (or changes its answer between two lookups) gets nowhere.
//
// The rules a create request may carry (`allow_out` / `deny_out`; the provider
// whose API has them cites its sources where it reads them): each entry is an IP,
// a CIDR or a host name; a non-empty `allow_out` makes the sandbox's egress an
// allowlist; an allow entry wins over a deny entry. Below every rule is the
// emulator's own floor: the host itself is never reachable, whatever `allow_out` says.
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

export interface EgressRules {
  /** `allow_out`: IPs, CIDRs or host names. Non-empty: nothing else is reachable. */
  allowOut: readonly string[];
  /** `deny_out`: IPs, CIDRs or host names refused (unless also allowed). */
  denyOut: readonly string[];
}

export type EgressVerdict = { allowed: true } | { allowed: false; reason: string };

type Family = 'ipv4' | 'ipv6';
const familyOf = (address: string): Family => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

/** The host itself and what is no single remote host: never reachable from a sandbox. */
const HOST_RANGES: readonly [string, number, Family][] = [
  ['0.0.0.0', 8, 'ipv4'], // "this host": a connect to 0.0.0.0 reaches the host's loopback on Linux
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'], // link-local, cloud metadata services among them
  ['224.0.0.0', 4, 'ipv4'], // multicast
  ['240.0.0.0', 4, 'ipv4'], // reserved, and the broadcast address
  ['::', 96, 'ipv6'], // unspecified, loopback (::1) and IPv4-compatible forms
  ['fe80::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];

/**
 * Networks behind the host (its LAN, containers beside it, a VPN): a cloud sandbox
 * cannot reach the developer's, so neither does an emulated one, unless `allow_out`
 * names them.
 */
const PRIVATE_RANGES: readonly [string, number, Family][] = [
  ['10.0.0.0', 8, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'], // carrier-grade NAT, also where some VPNs put their peers
  ['fc00::', 7, 'ipv6'],
];

function rangeList(ranges: readonly [string, number, Family][]): BlockList {
  const list = new BlockList();
  for (const [network, prefix, family] of ranges) list.addSubnet(network, prefix, family);
  return list;
}

const hostRanges = rangeList(HOST_RANGES);
const privateRanges = rangeList(PRIVATE_RANGES);

/** A host name as the proxy compares it: lower case, without a trailing dot or IPv6 brackets. */
export function normalizeHost(host: string): string {
  return host.trim().toLowerCase().replace(/\.$/, '').replace(/^\[(.*)\]$/, '$1');
}

/** One list of rules: its addresses and networks, and its host names. */
function compileList(entries: readonly string[]): { addresses: BlockList; hosts: Set<string> } {
  const addresses = new BlockList();
  const hosts = new Set<string>();
  for (const raw of entries) {
    const entry = normalizeHost(raw);
    const cidr = /^(.+)\/(\d{1,3})$/.exec(entry);
    if (cidr && isIP(cidr[1]!) && Number(cidr[2]) <= (isIP(cidr[1]!) === 6 ? 128 : 32)) {
      addresses.addSubnet(cidr[1]!, Number(cidr[2]), familyOf(cidr[1]!));
    } else if (isIP(entry)) {
      addresses.addAddress(entry, familyOf(entry));
    } else if (entry !== '') {
      hosts.add(entry);
    }
  }
  return { addresses, hosts };
}

/** The host's own addresses now (interfaces come and go: read at each decision). */
function isHostAddress(address: string): boolean {
  const family = familyOf(address);
  const own = new BlockList();
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) {
      const ownFamily = entry.family === 'IPv6' ? 'ipv6' : 'ipv4';
      own.addAddress(entry.address.replace(/%.*$/, ''), ownFamily);
    }
  }
  return own.check(address, family);
}

export interface EgressPolicy {
  /** A refusal decided by the name alone (a deny_out host name), before any lookup: a denied name is not even resolved. */
  refusesName(host: string): EgressVerdict | undefined;
  /** Whether the sandbox may reach the destination named `host`, resolved to `address`. */
  decide(host: string, address: string): EgressVerdict;
}

export function egressPolicy(rules: EgressRules): EgressPolicy {
  const allow = compileList(rules.allowOut);
  const deny = compileList(rules.denyOut);
  const allowlist = rules.allowOut.length > 0;
  return {
    refusesName(host) {
      const name = normalizeHost(host);
      if (!allow.hosts.has(name) && deny.hosts.has(name)) return { allowed: false, reason: `${name} is in deny_out` };
      return undefined;
    },
    decide(host, address) {
      const name = normalizeHost(host);
      const family = familyOf(address);
      if (hostRanges.check(address, family) || isHostAddress(address)) {
        return { allowed: false, reason: `${address} is the host itself (loopback, one of its interfaces, link-local or not a single host): never reachable from a sandbox` };
      }
      if (allow.hosts.has(name) || allow.addresses.check(address, family)) return { allowed: true };
      if (deny.hosts.has(name) || deny.addresses.check(address, family)) return { allowed: false, reason: `${name} (${address}) is in deny_out` };
      if (allowlist) return { allowed: false, reason: `${name} (${address}) is not in allow_out` };
      if (privateRanges.check(address, family)) {
        return { allowed: false, reason: `${address} is a private network address (the host's side): name it in allow_out to reach it` };
      }
      return { allowed: true };
    },
  };
}
