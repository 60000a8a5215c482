import type { ProviderName } from '../offers/offer.ts';

/**
 * Where each record type lives in the single table (lib/state/table.ts). Each type has a
 * fixed partition so "list all of a kind" is one paged Query, never a Scan:
 *
 * | record            | pk                  | sk          |
 * |-------------------|---------------------|-------------|
 * | PodRecord         | `POD`               | pod uid     |
 * | Ban               | `BAN#<provider>`    | machine id  |
 * | Lease             | `LEASE`             | lease name  |
 * | AddressAllocation | `ADDR`              | address     |
 * | BootstrapToken    | `TOKEN`             | token hash  |
 * | rate-limit count  | `RATE#<key>`        | window start|
 * | pace slot         | `PACE#<key>`        | `next`      |
 * | LogTail           | `LOGS#<pod uid>`    | `c#<container>` |
 * | KubeletAddress    | `KUBELET`           | `address`   |
 *
 * Fixed partitions are hot keys in principle; at anex's scale (tens to hundreds of pods,
 * a few writes per pod per minute) they stay far below DynamoDB's 1,000 writes/s per
 * partition, and a Query per kind is what keeps a pass at O(1) calls per page. Rate-limit
 * counts are never listed, only updated by key, so each key has a partition of its own; a
 * pod's log tails share a partition of their own so deleting the pod finds them with one Query
 * (the sort key's `c#` prefix keeps the app container's empty name a valid key).
 */
export interface ItemKey {
  pk: string;
  sk: string;
}

export const PARTITIONS = {
  pod: 'POD',
  lease: 'LEASE',
  address: 'ADDR',
  token: 'TOKEN',
} as const;

export function banPartition(provider: ProviderName): string {
  return `BAN#${provider}`;
}

export function logPartition(podUid: string): string {
  return `LOGS#${podUid}`;
}

export const keys = {
  pod: (podUid: string): ItemKey => ({ pk: PARTITIONS.pod, sk: podUid }),
  ban: (provider: ProviderName, machineId: string): ItemKey => ({
    pk: banPartition(provider),
    sk: machineId,
  }),
  lease: (name: string): ItemKey => ({ pk: PARTITIONS.lease, sk: name }),
  address: (address: string): ItemKey => ({ pk: PARTITIONS.address, sk: address }),
  token: (hash: string): ItemKey => ({ pk: PARTITIONS.token, sk: hash }),
  rate: (key: string, windowStart: number): ItemKey => ({ pk: `RATE#${key}`, sk: String(windowStart) }),
  pace: (key: string): ItemKey => ({ pk: `PACE#${key}`, sk: 'next' }),
  logTail: (podUid: string, container: string): ItemKey => ({
    pk: logPartition(podUid),
    sk: `c#${container}`,
  }),
  kubelet: (): ItemKey => ({ pk: 'KUBELET', sk: 'address' }),
};
