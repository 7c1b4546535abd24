// The egress policy a confined sandbox's proxy applies to every address it would
// connect to: the host itself is never reachable, whatever the rules say; then
// Tensorlake's allow_out / deny_out as its sources state them (an allow entry wins,
// a non-empty allow_out is an allowlist); private networks only where allowed.
import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { egressPolicy } from '../src/emulator/confinement/egress-policy.js';

const open = egressPolicy({ allowOut: [], denyOut: [] });
const allowed = (verdict: { allowed: boolean }) => verdict.allowed;

describe('the egress policy', () => {
  it("refuses the host's loopback, unspecified, link-local and multicast addresses, in every spelling, even when allow_out names them", () => {
    const hostile = ['127.0.0.1', '127.8.9.10', '0.0.0.0', '::1', '::', '::ffff:127.0.0.1', '::ffff:7f00:1', '::127.0.0.1', '169.254.169.254', 'fe80::1', '224.0.0.1', '255.255.255.255', 'ff02::1'];
    const lenient = egressPolicy({ allowOut: ['127.0.0.0/8', '::1', '169.254.0.0/16', 'localhost', '0.0.0.0/0'], denyOut: [] });
    for (const address of hostile) {
      expect(allowed(open.decide('example.com', address)), address).toBe(false);
      expect(allowed(lenient.decide('localhost', address)), address).toBe(false);
    }
    expect(open.decide('localhost', '127.0.0.1')).toMatchObject({ allowed: false, reason: expect.stringContaining('the host itself') });
  });

  it("refuses every address of the host's own interfaces", () => {
    const own = Object.values(networkInterfaces())
      .flatMap((entries) => entries ?? [])
      .map((entry) => entry.address.replace(/%.*$/, ''));
    expect(own.length).toBeGreaterThan(0);
    for (const address of own) expect(allowed(open.decide('anything', address)), address).toBe(false);
  });

  it('lets public addresses through, and private networks only where allow_out names them', () => {
    expect(allowed(open.decide('registry.example', '203.0.113.80'))).toBe(true);
    expect(allowed(open.decide('registry.example', '2001:db8::1'))).toBe(true);
    for (const address of ['10.1.2.3', '172.20.0.5', '192.168.1.1', '100.64.0.1', 'fd00::5']) {
      expect(open.decide('intranet', address)).toMatchObject({ allowed: false, reason: expect.stringContaining('private network') });
    }
    const lan = egressPolicy({ allowOut: ['10.0.0.0/8', 'intranet.local'], denyOut: [] });
    expect(allowed(lan.decide('x', '10.1.2.3'))).toBe(true);
    expect(allowed(lan.decide('intranet.local', '192.168.1.1'))).toBe(true);
  });

  it('refuses what deny_out names, by address, network or host name (case and a trailing dot aside)', () => {
    const policy = egressPolicy({ allowOut: [], denyOut: ['198.51.100.0/24', '203.0.113.7', 'Blocked.Example', '2001:db8::/32'] });
    expect(policy.decide('a', '198.51.100.200')).toMatchObject({ allowed: false, reason: expect.stringContaining('deny_out') });
    expect(allowed(policy.decide('a', '203.0.113.7'))).toBe(false);
    expect(allowed(policy.decide('a', '203.0.113.8'))).toBe(true);
    expect(allowed(policy.decide('a', '2001:db8::1'))).toBe(false);
    expect(policy.refusesName('blocked.example.')).toMatchObject({ allowed: false });
    expect(allowed(policy.decide('BLOCKED.example', '203.0.113.9'))).toBe(false);
    // Host names match exactly: a subdomain is another name.
    expect(policy.refusesName('api.blocked.example')).toBeUndefined();
  });

  it('makes a non-empty allow_out an allowlist, whose entries win over deny_out', () => {
    const policy = egressPolicy({ allowOut: ['registry.example', '198.51.100.7'], denyOut: ['0.0.0.0/0', '198.51.100.0/24', 'registry.example'] });
    expect(allowed(policy.decide('registry.example', '203.0.113.80'))).toBe(true);
    expect(policy.refusesName('registry.example')).toBeUndefined();
    expect(allowed(policy.decide('other', '198.51.100.7'))).toBe(true);
    expect(allowed(policy.decide('other', '198.51.100.8'))).toBe(false);
    const only = egressPolicy({ allowOut: ['198.51.100.7'], denyOut: [] });
    expect(only.decide('elsewhere.example', '203.0.113.80')).toMatchObject({ allowed: false, reason: expect.stringContaining('not in allow_out') });
  });
});
