import { afterEach, describe, expect, it } from 'vitest';
import { machineLink } from '../../../lib/sim/machines/network.ts';
import { MachineRunner } from '../../../lib/sim/machines/runner.ts';

/** lib/sim/machines/network.ts: the checks made before any interface exists. */

const network = (address: string) => ({ bridge: 'br0', address: () => address });

describe('machineLink', () => {
  it('names a fresh veth pair within the kernel limit (15 characters) and keeps the address', () => {
    const one = machineLink(network('172.30.5.20/24'), 'i-1');
    const two = machineLink(network('172.30.5.21/24'), 'i-2');
    expect(one.address).toBe('172.30.5.20/24');
    for (const name of [one.inside, one.outside, two.inside, two.outside])
      expect(name.length).toBeLessThanOrEqual(15);
    expect(new Set([one.inside, one.outside, two.inside, two.outside]).size).toBe(4);
  });

  it.each(['172.30.5.20', '172.30.5.256/24', '172.30.5.20/33', 'eth0', ''])(
    'refuses the address %j, naming it and the accepted form',
    (address) => {
      expect(() => machineLink(network(address), 'i-9')).toThrow(
        `machine network: address ${JSON.stringify(address)} for i-9 is not an IPv4 CIDR (e.g. "172.31.5.20/24")`,
      );
    },
  );
});

describe('MachineRunner with a machine network', () => {
  const before = process.env.ANEX_SIM_ISOLATION;
  afterEach(() => {
    if (before === undefined) delete process.env.ANEX_SIM_ISOLATION;
    else process.env.ANEX_SIM_ISOLATION = before;
  });

  it('is refused in plain mode, saying why machines run plain', () => {
    process.env.ANEX_SIM_ISOLATION = 'plain';
    expect(() => new MachineRunner({ hosts: {}, network: network('172.30.5.20/24') })).toThrow(
      'MachineRunner: a machine network needs namespaces mode (root); machines run plain here (ANEX_SIM_ISOLATION=plain)',
    );
  });
});
