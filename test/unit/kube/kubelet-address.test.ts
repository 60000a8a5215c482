import { describe, expect, it } from 'vitest';
import { kubeletAddressFlag } from '../../../lib/cli/commands/run.ts';
import { runHeartbeat } from '../../../lib/kube/heartbeat.ts';
import { MemoryCluster } from '../../../lib/kube/memory-cluster.ts';
import {
  advertisedNode,
  KUBELET_ADDRESS_FRESH_MS,
  nodeStatusPatch,
  parseKubeletAddress,
  virtualNodeSpec,
} from '../../../lib/kube/virtual-node.ts';

// The nodes advertise the kubelet API beside the gateway (ADR 0023 §3, kube audit N9).

const T0 = 1_800_000_000_000;
const spec = virtualNodeSpec('vastai', 'anex-vastai');

describe('parseKubeletAddress', () => {
  it.each([
    ['10.0.3.7:10250', { ip: '10.0.3.7', port: 10250 }],
    [' 192.168.1.1:1 ', { ip: '192.168.1.1', port: 1 }],
    ['127.0.0.1:65535', { ip: '127.0.0.1', port: 65535 }],
    ['10.0.3.7:0', undefined],
    ['10.0.3.7:65536', undefined],
    ['10.0.3.7', undefined],
    ['10.0.3.256:10250', undefined],
    ['10.0.3:10250', undefined],
    ['[::1]:10250', undefined],
    ['gateway.anex-system:10250', undefined],
    ['10.0.3.7:10250\r\nX-Other: 1', undefined],
    ['', undefined],
  ])('%j → %j', (text, expected) => {
    expect(parseKubeletAddress(text)).toEqual(expected);
  });
});

describe('advertisedNode', () => {
  const reported = { ip: '10.0.3.7', port: 10250, reportedAt: T0 };
  it.each([
    ['no report', undefined, T0, undefined, 10250],
    ['a fresh report', reported, T0 + 60_000, '10.0.3.7', 10250],
    ['a report on another port', { ...reported, port: 10443 }, T0, '10.0.3.7', 10443],
    ['a report just under 10 minutes old', reported, T0 + KUBELET_ADDRESS_FRESH_MS - 1, '10.0.3.7', 10250],
    ['a report 10 minutes old', reported, T0 + KUBELET_ADDRESS_FRESH_MS, undefined, 10250],
  ])('%s', (_what, address, now, internalIp, port) => {
    const node = advertisedNode(spec, address, now);
    expect([node.internalIp, node.daemonPort]).toEqual([internalIp, port]);
    const status = nodeStatusPatch(node, { now, existing: undefined }).status;
    expect(status.daemonEndpoints.kubeletEndpoint.Port).toBe(port);
    expect(status.addresses).toEqual([
      // the list is replaced, so a stale InternalIP leaves the node
      { $patch: 'replace' },
      // the InternalIP alone when there is one: a Hostname would be dialled first (N9)
      internalIp === undefined
        ? { type: 'Hostname', address: 'anex-vastai' }
        : { type: 'InternalIP', address: internalIp },
    ]);
  });
});

describe('runHeartbeat with kubeletAddress', () => {
  it('publishes the reported address on each status refresh, read once for all nodes', async () => {
    const cluster = new MemoryCluster();
    let reads = 0;
    const report = await runHeartbeat({
      cluster,
      nodes: [spec, virtualNodeSpec('runpod', 'anex-runpod')],
      until: T0,
      now: () => T0,
      kubeletAddress: async () => {
        reads += 1;
        return { ip: '10.0.3.7', port: 10250, reportedAt: T0 - 1000 };
      },
    });
    expect(report.failures).toEqual([]);
    expect(reads).toBe(1);
    for (const name of ['anex-vastai', 'anex-runpod']) {
      expect(cluster.node(name)?.spec).toMatchObject({ internalIp: '10.0.3.7', daemonPort: 10250 });
    }
  });

  it('still refreshes the nodes, without an address, when the read fails, and reports it', async () => {
    const cluster = new MemoryCluster();
    const report = await runHeartbeat({
      cluster,
      nodes: [spec],
      until: T0,
      now: () => T0,
      kubeletAddress: async () => {
        throw new Error('table unavailable');
      },
    });
    expect(report.failures.map((f) => [f.node, f.step])).toEqual([['*', 'kubelet-address']]);
    expect(cluster.node('anex-vastai')?.spec.internalIp).toBeUndefined();
    expect(cluster.node('anex-vastai')?.readyHeartbeat).toBe(T0);
  });
});

describe('anex run --kubelet-address', () => {
  it.each([
    ['10.0.0.5:10250', { ip: '10.0.0.5', port: 10250 }],
    ['127.0.0.1:12000', { ip: '127.0.0.1', port: 12000 }],
  ])('takes %s', (value, expected) => {
    expect(kubeletAddressFlag(value)).toEqual(expected);
  });

  it.each(['localhost:10250', '10.0.0.5', '10.0.0.5:99999'])('refuses %s naming the form', (value) => {
    expect(() => kubeletAddressFlag(value)).toThrow(`"${value}" is not <ipv4>:<port> (port 1-65535)`);
  });
});
