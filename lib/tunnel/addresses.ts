import { AnexError, InvalidInputError } from '../errors.ts';
import type { AddressAllocation, TunnelStore } from '../state/store.ts';

/**
 * VPN addresses: one /32 per pod from a configured IPv4 range, unique through the store's
 * conditional claim. The network address, the broadcast address and the first host (the
 * gateway's own tunnel address) are never handed out.
 */
export interface VpnRange {
  cidr: string;
  /** network address as an unsigned 32-bit integer */
  network: number;
  prefix: number;
  /** number of addresses in the range (2^(32-prefix)) */
  size: number;
}

const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** Parses an IPv4 dotted quad; undefined when it is not one. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/**
 * Parses the VPN range. Accepts /8 to /30: a /31 or /32 leaves no address for a pod once the
 * network, gateway and broadcast addresses are reserved.
 */
export function parseVpnRange(cidr: string): VpnRange {
  const match = CIDR.exec(cidr.trim());
  const prefix = match ? Number(match[5]) : Number.NaN;
  const base = match ? parseIpv4(cidr.trim().split('/')[0] ?? '') : undefined;
  if (base === undefined || !(prefix >= 8 && prefix <= 30)) {
    throw new InvalidInputError([
      `VPN range "${cidr}" is not an IPv4 CIDR between /8 and /30 (e.g. "10.250.0.0/16")`,
    ]);
  }
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) {
    throw new InvalidInputError([
      `VPN range "${cidr}" has host bits set; use its network address (${formatIpv4(base - (base % size))}/${prefix})`,
    ]);
  }
  return { cidr: `${formatIpv4(base)}/${prefix}`, network: base, prefix, size };
}

/** The gateway's tunnel address: the first host of the range. */
export function gatewayAddress(range: VpnRange): string {
  return formatIpv4(range.network + 1);
}

/** Addresses a pod may get: from network+2 up to broadcast-1, in order. */
export function* assignableAddresses(range: VpnRange): Generator<string> {
  for (let offset = 2; offset < range.size - 1; offset += 1) {
    yield formatIpv4(range.network + offset);
  }
}

export function inRange(range: VpnRange, address: string): boolean {
  const value = parseIpv4(address);
  return value !== undefined && value >= range.network && value < range.network + range.size;
}

/**
 * Gives `podUid` an address: its existing allocation if it has one (a retried bootstrap
 * must not take a second address), else the lowest free one. Two concurrent callers never
 * get the same address: the store's claim is conditional, and a lost claim moves on.
 * @throws AnexError kind `capacity` when the range is full.
 */
export async function allocateAddress(
  store: TunnelStore,
  podUid: string,
  options: { range: VpnRange; now: number },
): Promise<AddressAllocation> {
  const existing = await store.listAddresses();
  const mine = existing.find((a) => a.podUid === podUid && inRange(options.range, a.address));
  if (mine) return mine;
  const taken = new Set(existing.map((a) => a.address));
  for (const address of assignableAddresses(options.range)) {
    if (taken.has(address)) continue;
    if (await store.claimAddress(address, podUid, { now: options.now })) {
      return { address, podUid, allocatedAt: options.now };
    }
  }
  throw new AnexError(`VPN range ${options.range.cidr} has no free address left`, {
    kind: 'capacity',
    retryable: true,
  });
}

/** Releases every address `podUid` holds (called when the pod ends). @returns the addresses freed. */
export async function releasePodAddresses(store: TunnelStore, podUid: string): Promise<string[]> {
  const mine = (await store.listAddresses()).filter((a) => a.podUid === podUid);
  for (const allocation of mine) {
    await store.releaseAddress(allocation.address, podUid);
  }
  return mine.map((a) => a.address);
}
