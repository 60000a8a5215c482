import type { V1Pod } from '@kubernetes/client-node';
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../../lib/cli/commands/bans.ts';
import { statusRow } from '../../../lib/cli/commands/status.ts';
import { describeState } from '../../../lib/local/pod-progress.ts';
import type { PodRecord } from '../../../lib/state/store.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-03-01T12:00:00Z');

function aRecord(overrides: Partial<PodRecord> = {}): PodRecord {
  return {
    podUid: 'u1',
    namespace: 'ml',
    name: 'train',
    provider: 'vastai',
    stage: 'running',
    attempts: 1,
    instance: {
      id: '9500000',
      gpuName: 'RTX 4090',
      gpuCount: 2,
      pricePerHour: 0.8,
      createdAt: T0 - 90 * 60_000,
    },
    version: 3,
    updatedAt: T0,
    ...overrides,
  };
}

describe('statusRow', () => {
  it('shows the instance, GPU, price, age and the cost accrued since it was rented', () => {
    const row = statusRow({ namespace: 'ml', name: 'train', phase: 'Running' }, 'vastai', aRecord(), T0);
    expect(row).toEqual({
      pod: 'ml/train',
      phase: 'Running',
      provider: 'vastai',
      stage: 'running',
      instance: '9500000',
      gpu: '2x RTX 4090',
      pricePerHour: 0.8,
      ageMinutes: 90,
      accruedUsd: expect.closeTo(1.2, 10),
    });
  });

  it('leaves cost and age out while nothing is rented', () => {
    const row = statusRow({ namespace: 'ml', name: 'wait' }, 'runpod', undefined, T0);
    expect(row).toMatchObject({ phase: 'Pending', stage: '-', instance: '-', gpu: '-' });
    expect(row.accruedUsd).toBeUndefined();
    expect(row.ageMinutes).toBeUndefined();
  });
});

describe('parseDuration (anex bans add --for)', () => {
  it.each([
    ['30m', 30 * 60_000],
    ['6h', 6 * HOUR],
    ['2d', 48 * HOUR],
  ])('%s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['0h', '6', '6 hours', '1.5h', '-1h', 'h'])('refuses %j naming the accepted form', (text) => {
    expect(() => parseDuration(text)).toThrow(InvalidArgumentError);
    expect(() => parseDuration(text)).toThrow(/a whole number with m, h or d, e\.g\. 6h/);
  });
});

describe('describeState (anex demo progress)', () => {
  it.each([
    ['not scheduled', { status: { phase: 'Pending' } }, 'Pending   waiting for the scheduler'],
    [
      'provisioning',
      {
        spec: { nodeName: 'anex-vastai', containers: [] },
        status: {
          phase: 'Pending',
          containerStatuses: [
            {
              name: 'c',
              image: 'i',
              imageID: '',
              ready: false,
              restartCount: 0,
              state: { waiting: { reason: 'ContainerCreating', message: 'Instance 1 is starting' } },
            },
          ],
        },
      },
      'Pending   on anex-vastai · ContainerCreating: Instance 1 is starting',
    ],
    [
      'running',
      { spec: { nodeName: 'anex-vastai', containers: [] }, status: { phase: 'Running', podIP: '10.99.0.2' } },
      'Running   on anex-vastai · podIP 10.99.0.2',
    ],
  ])('%s', (_name, pod, line) => {
    expect(describeState(pod as V1Pod)).toBe(line);
  });
});
