import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../lib/state/memory-store.ts';
import {
  allocateAddress,
  assignableAddresses,
  gatewayAddress,
  parseVpnRange,
  releasePodAddresses,
} from '../../../lib/tunnel/addresses.ts';

const NOW = 1_800_000_000_000;

describe('parseVpnRange', () => {
  it.each([
    ['10.250.0.0/16', 65536],
    ['100.64.0.0/10', 4194304],
    ['192.168.7.0/30', 4],
  ])('parses %s', (cidr, size) => {
    expect(parseVpnRange(cidr)).toMatchObject({ cidr, size });
  });

  it.each([
    ['10.250.0.0', /not an IPv4 CIDR/],
    ['10.250.0.0/31', /between \/8 and \/30/],
    ['10.250.0.0/7', /between \/8 and \/30/],
    ['10.256.0.0/16', /not an IPv4 CIDR/],
    ['10.250.0.5/24', /host bits set; use its network address \(10\.250\.0\.0\/24\)/],
    ['fd00::/64', /not an IPv4 CIDR/],
  ])('rejects %s naming the value', (cidr, message) => {
    expect(() => parseVpnRange(cidr)).toThrow(message);
    expect(() => parseVpnRange(cidr)).toThrow(cidr);
  });
});

describe('assignableAddresses', () => {
  it('skips the network, gateway and broadcast addresses', () => {
    const range = parseVpnRange('10.9.0.0/29');
    expect([...assignableAddresses(range)]).toEqual([
      '10.9.0.2',
      '10.9.0.3',
      '10.9.0.4',
      '10.9.0.5',
      '10.9.0.6',
    ]);
    expect(gatewayAddress(range)).toBe('10.9.0.1');
  });
});

describe('allocateAddress', () => {
  it('gives concurrent pods distinct addresses', async () => {
    const store = new MemoryStore();
    const range = parseVpnRange('10.250.0.0/24');
    const pods = Array.from({ length: 60 }, (_, i) => `pod-${i}`);
    const got = await Promise.all(pods.map((pod) => allocateAddress(store, pod, { range, now: NOW })));
    const addresses = got.map((a) => a.address);
    expect(new Set(addresses).size).toBe(60);
    expect(addresses).not.toContain('10.250.0.0');
    expect(addresses).not.toContain('10.250.0.1');
    expect(addresses).not.toContain('10.250.0.255');
    expect((await store.listAddresses()).length).toBe(60);
  });

  it('returns the same address when the pod asks again', async () => {
    const store = new MemoryStore();
    const range = parseVpnRange('10.250.0.0/24');
    const first = await allocateAddress(store, 'pod-a', { range, now: NOW });
    const again = await allocateAddress(store, 'pod-a', { range, now: NOW + 1 });
    expect(again.address).toBe(first.address);
    expect((await store.listAddresses()).length).toBe(1);
  });

  it('fails with kind capacity when the range is full, and reuses an address once released', async () => {
    const store = new MemoryStore();
    const range = parseVpnRange('10.250.0.0/30');
    const only = await allocateAddress(store, 'pod-a', { range, now: NOW });
    expect(only.address).toBe('10.250.0.2');
    await expect(allocateAddress(store, 'pod-b', { range, now: NOW })).rejects.toMatchObject({
      kind: 'capacity',
    });
    expect(await releasePodAddresses(store, 'pod-a')).toEqual(['10.250.0.2']);
    expect((await allocateAddress(store, 'pod-b', { range, now: NOW })).address).toBe('10.250.0.2');
  });

  it('skips an address another pod claimed after the listing', async () => {
    const store = new MemoryStore();
    const range = parseVpnRange('10.250.0.0/24');
    // Simulates a concurrent claimer: the store's claim fails once for .2.
    const racing = Object.assign(Object.create(store) as MemoryStore, {
      claimAddress: async (address: string, podUid: string, options: { now: number }) => {
        if (address === '10.250.0.2') await store.claimAddress(address, 'other-pod', options);
        return store.claimAddress(address, podUid, options);
      },
      listAddresses: () => store.listAddresses(),
    });
    expect((await allocateAddress(racing, 'pod-a', { range, now: NOW })).address).toBe('10.250.0.3');
  });
});
