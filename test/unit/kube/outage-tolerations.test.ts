import { describe, expect, it } from 'vitest';
import {
  OUTAGE_TAINT_KEYS,
  outageEvictionRisks,
  type Toleration,
  withOutageTolerations,
} from '../../../lib/kube/outage-tolerations.ts';

const UNREACHABLE = 'node.kubernetes.io/unreachable';
const NOT_READY = 'node.kubernetes.io/not-ready';
const forever = (key: string): Toleration => ({ key, operator: 'Exists', effect: 'NoExecute' });
/** what the DefaultTolerationSeconds admission plugin adds to every pod */
const defaulted = (key: string, seconds = 300): Toleration => ({
  ...forever(key),
  tolerationSeconds: seconds,
});
const GPU: Toleration = { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' };

describe('withOutageTolerations', () => {
  it.each<[string, Toleration[] | undefined, Toleration[], { dropped: number; risks: number }]>([
    [
      'no tolerations at all',
      undefined,
      [forever(UNREACHABLE), forever(NOT_READY)],
      { dropped: 0, risks: 0 },
    ],
    [
      "DefaultTolerationSeconds' 300 s ones: made permanent in place",
      [defaulted(NOT_READY), defaulted(UNREACHABLE)],
      [forever(NOT_READY), forever(UNREACHABLE)],
      { dropped: 0, risks: 0 },
    ],
    [
      "the user's own with tolerationSeconds: made permanent, shape kept, reported",
      [GPU, { key: UNREACHABLE, effect: 'NoExecute', tolerationSeconds: 600 }, defaulted(NOT_READY)],
      [GPU, { key: UNREACHABLE, effect: 'NoExecute' }, forever(NOT_READY)],
      { dropped: 1, risks: 0 },
    ],
    [
      "the user's Exists-all toleration: already tolerates both forever, nothing to do",
      [{ operator: 'Exists' }],
      [{ operator: 'Exists' }],
      { dropped: 0, risks: 0 },
    ],
    [
      'every NoExecute taint for 60 s: left alone (it covers other taints too), the two added, the risk reported',
      [{ operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 }],
      [
        { operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 },
        forever(UNREACHABLE),
        forever(NOT_READY),
      ],
      { dropped: 0, risks: 1 },
    ],
    [
      'already permanent: unchanged',
      [forever(NOT_READY), forever(UNREACHABLE)],
      [forever(NOT_READY), forever(UNREACHABLE)],
      { dropped: 0, risks: 0 },
    ],
    [
      'a permanent one next to a timed one (user + default): one left',
      [forever(UNREACHABLE), defaulted(UNREACHABLE), defaulted(NOT_READY)],
      [forever(UNREACHABLE), forever(NOT_READY)],
      { dropped: 0, risks: 0 },
    ],
    [
      'a NoSchedule toleration of the key does not count for NoExecute',
      [{ key: UNREACHABLE, operator: 'Exists', effect: 'NoSchedule' }],
      [
        { key: UNREACHABLE, operator: 'Exists', effect: 'NoSchedule' },
        forever(UNREACHABLE),
        forever(NOT_READY),
      ],
      { dropped: 0, risks: 0 },
    ],
    [
      'an Equal toleration with a value never matches the valueless taint: untouched, the key added',
      [{ key: NOT_READY, operator: 'Equal', value: 'x', effect: 'NoExecute', tolerationSeconds: 10 }],
      [
        { key: NOT_READY, operator: 'Equal', value: 'x', effect: 'NoExecute', tolerationSeconds: 10 },
        forever(UNREACHABLE),
        forever(NOT_READY),
      ],
      { dropped: 0, risks: 0 },
    ],
  ])('%s', (_what, input, expected, counts) => {
    const result = withOutageTolerations(input);
    expect(result.tolerations).toEqual(expected);
    expect(result.changed).toBe(JSON.stringify(expected) !== JSON.stringify(input ?? []));
    expect(result.dropped).toHaveLength(counts.dropped);
    expect(result.risks).toHaveLength(counts.risks);
    // Whatever the input, no outage taint is left with a deadline but a 60 s wildcard the user chose.
    if (counts.risks === 0) expect(outageEvictionRisks(result.tolerations)).toEqual([]);
  });

  it('is idempotent: its own output is returned unchanged', () => {
    const once = withOutageTolerations([GPU, defaulted(NOT_READY), defaulted(UNREACHABLE, 30)]);
    const twice = withOutageTolerations(once.tolerations);
    expect(twice.changed).toBe(false);
    expect(twice.tolerations).toEqual(once.tolerations);
  });

  it('only ever drops tolerationSeconds from an existing toleration (the one change a pod update allows)', () => {
    const input = [defaulted(NOT_READY, 45), { key: UNREACHABLE, effect: 'NoExecute', tolerationSeconds: 7 }];
    const { tolerations } = withOutageTolerations(input);
    for (const old of input) {
      const { tolerationSeconds: _, ...shape } = old;
      expect(tolerations).toContainEqual(shape);
    }
  });
});

describe('outageEvictionRisks', () => {
  it.each<[string, Toleration[] | undefined, string[]]>([
    ['none', undefined, OUTAGE_TAINT_KEYS.map((k) => `no toleration of ${k}:NoExecute`)],
    [
      'the defaults',
      [defaulted(NOT_READY), defaulted(UNREACHABLE)],
      [
        `${UNREACHABLE}:NoExecute is tolerated for 300 s only`,
        `${NOT_READY}:NoExecute is tolerated for 300 s only`,
      ],
    ],
    [
      'a permanent one cut short by a wildcard with seconds (the taint manager takes the minimum)',
      [
        forever(UNREACHABLE),
        forever(NOT_READY),
        { operator: 'Exists', tolerationSeconds: 60, effect: 'NoExecute' },
      ],
      [
        `${UNREACHABLE}:NoExecute is tolerated for 60 s only`,
        `${NOT_READY}:NoExecute is tolerated for 60 s only`,
      ],
    ],
    ['both permanent', [forever(UNREACHABLE), forever(NOT_READY)], []],
    ['tolerate everything', [{ operator: 'Exists' }], []],
  ])('%s', (_what, tolerations, expected) => {
    expect(outageEvictionRisks(tolerations)).toEqual(expected);
  });
});
