import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/**
 * A network for namespaced simulated machines besides their loopback way to the agent endpoint
 * (lib/sim/machines/forward.ts): each machine gets one end of a veth pair as `eth0`, with an
 * address on `bridge` and a default route out of it, so it reaches other hosts on that bridge
 * (a test's "internet": the cluster gateway's public UDP and wss endpoints) as a rented host
 * reaches the internet. The route names no router: what is not on the bridge is unreachable.
 *
 * Contract: namespaces mode only (the runner refuses it in plain mode); the bridge exists
 * before the first machine starts and outlives the runner; `address` is asked once per
 * machine start and must answer `a.b.c.d/len`, unique on the bridge; the bridge-side end of a
 * machine's pair is removed when the machine stops (the kernel removes both ends anyway when
 * the machine's network namespace ends).
 */
export interface MachineNetwork {
  /** the bridge each machine's link joins */
  bridge: string;
  /** the named network namespace (`ip netns`) that holds `bridge`; absent: this host's own */
  netns?: string;
  /** the address of the machine that starts now (its instance id given), `a.b.c.d/len` */
  address(machineId: string): string;
}

/** The interface a machine's setup script waits for, configures and renames `eth0`. */
export interface MachineLink {
  /** the machine-side name, as it arrives in the machine's namespace */
  inside: string;
  /** the bridge-side name */
  outside: string;
  address: string;
}

const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** A fresh pair of names (15 characters at most) and the machine's checked address. */
export function machineLink(network: MachineNetwork, machineId: string): MachineLink {
  const address = network.address(machineId);
  const match = CIDR.exec(address);
  const octets = match?.slice(1, 5).map(Number) ?? [];
  if (match === null || octets.some((o) => o > 255) || Number(match[5]) > 32) {
    throw new Error(
      `machine network: address ${JSON.stringify(address)} for ${machineId} is not an IPv4 CIDR (e.g. "172.31.5.20/24")`,
    );
  }
  const tag = randomBytes(4).toString('hex');
  return { inside: `am${tag}i`, outside: `am${tag}o`, address };
}

/**
 * Moves `link.inside` into the network namespace of process `pid` (the machine's `unshare`,
 * once it has left this host's namespace) and joins `link.outside` to the bridge. Throws
 * naming the failed command; on failure nothing of the pair is left.
 */
export async function attachMachine(network: MachineNetwork, link: MachineLink, pid: number): Promise<void> {
  await leftOurNamespace(pid);
  const inBridgeNs = (args: string[]) =>
    network.netns === undefined ? ip(args) : ip(['-n', network.netns, ...args]);
  try {
    await ip(['link', 'add', link.outside, 'type', 'veth', 'peer', 'name', link.inside]);
    await ip(['link', 'set', link.inside, 'netns', String(pid)]);
    if (network.netns !== undefined) await ip(['link', 'set', link.outside, 'netns', network.netns]);
    await inBridgeNs(['link', 'set', link.outside, 'master', network.bridge]);
    await inBridgeNs(['link', 'set', link.outside, 'up']);
  } catch (error) {
    await detachMachine(network, link);
    throw error;
  }
}

/** Removes the bridge-side end (and with it the pair); never throws. */
export async function detachMachine(network: MachineNetwork, link: MachineLink): Promise<void> {
  for (const args of [
    ...(network.netns === undefined ? [] : [['-n', network.netns, 'link', 'del', link.outside]]),
    ['link', 'del', link.outside],
  ]) {
    try {
      await ip(args);
      return;
    } catch {
      // not there (gone with the machine's namespace, or in the other namespace)
    }
  }
}

async function ip(args: string[]): Promise<void> {
  try {
    await exec('ip', args, { env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' } });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`machine network: ip ${args.join(' ')} failed: ${(e.stderr || e.message).trim()}`);
  }
}

/** Waits until `pid` is in a network namespace other than this process's (unshare has run). */
async function leftOurNamespace(pid: number): Promise<void> {
  const ours = readlinkSync('/proc/self/ns/net');
  for (let i = 0; i < 200; i += 1) {
    let theirs: string;
    try {
      theirs = readlinkSync(`/proc/${pid}/ns/net`);
    } catch {
      throw new Error(`machine network: process ${pid} ended before its network namespace could be joined`);
    }
    if (theirs !== ours) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`machine network: process ${pid} did not make its network namespace within 5 s`);
}
