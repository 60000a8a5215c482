import { describe, expect, it } from 'vitest';
import { podTransition, type WatchedPod } from '../../../lib/local/pod-watch.ts';

function aPod(uid: string, deleting = false): WatchedPod {
  return {
    metadata: {
      uid,
      namespace: 'ml',
      name: `pod-${uid}`,
      ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
    },
  };
}

describe('podTransition', () => {
  it.each([
    ['first sight of a pod', [], 'ADDED', aPod('a'), 'bound'],
    ['first sight of a pod being deleted', [], 'ADDED', aPod('a', true), 'deleting'],
    ['a status write of our own', [['ADDED', aPod('a')]], 'MODIFIED', aPod('a'), undefined],
    ['deletion requested', [['ADDED', aPod('a')]], 'MODIFIED', aPod('a', true), 'deleting'],
    ['deletion already seen', [['ADDED', aPod('a', true)]], 'MODIFIED', aPod('a', true), undefined],
    ['the pod removed', [['ADDED', aPod('a')]], 'DELETED', aPod('a'), 'deleted'],
    ['a re-list after a reconnect', [['ADDED', aPod('a')]], 'ADDED', aPod('a'), undefined],
    ['an object without uid', [], 'ADDED', { metadata: { name: 'x' } }, undefined],
  ] as const)('%s', (_name, history, phase, pod, kind) => {
    const seen = new Map<string, { deleting: boolean }>();
    for (const [p, earlier] of history) podTransition(seen, p, earlier);
    expect(podTransition(seen, phase, pod as WatchedPod)?.kind).toBe(kind);
  });
});
