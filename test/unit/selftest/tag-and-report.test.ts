import { describe, expect, it } from 'vitest';
import { formatTag, parseTag } from '../../../lib/providers/provider.ts';
import {
  AGENT_STEP_NAMES,
  REPORT_SCHEMA,
  renderJson,
  renderStep,
  type SelftestReport,
  STEP_NAMES,
} from '../../../lib/selftest/report.ts';
import {
  isSelftestTag,
  newSelftestTag,
  SELFTEST_CLUSTER_ID,
  selftestInstances,
} from '../../../lib/selftest/tag.ts';
import { MARKER_NONCE_ENV, markerCommand, markerLine, markerStub } from '../../../lib/tunnel/agent/stub.ts';

describe('selftest tag', () => {
  it('is a tag the adapters parse back, with both reserved marks', () => {
    const tag = newSelftestTag();
    expect(parseTag(formatTag(tag))).toEqual(tag);
    expect(tag.clusterId).toBe(SELFTEST_CLUSTER_ID);
    expect(isSelftestTag(tag)).toBe(true);
  });

  it.each([
    [
      'a real pod of a cluster named like the selftest',
      { clusterId: SELFTEST_CLUSTER_ID, podUid: '0f9c1e4a-2b7d-4c1e-9a8b-1234567890ab' },
      false,
    ],
    [
      'the selftest UID under another cluster id',
      { clusterId: 'prod', podUid: '5e1f7e57-0000-4000-8abc-0123456789ab' },
      false,
    ],
    ['both marks', { clusterId: SELFTEST_CLUSTER_ID, podUid: '5e1f7e57-0000-4000-8abc-0123456789ab' }, true],
  ])('%s: selftest instance = %s', (_what, tag, expected) => {
    expect(isSelftestTag(tag)).toBe(expected);
    expect(
      selftestInstances([{ id: '1', provider: 'vastai', tag, state: { phase: 'running' } }]),
    ).toHaveLength(expected ? 1 : 0);
  });
});

describe('marker stub', () => {
  it('carries no nonce and no marker line in its text: the shell makes the line from the env', () => {
    const nonce = 'abc123';
    const text = markerCommand().join(' ');
    expect(text).not.toContain(nonce);
    expect(text).not.toContain(markerLine(nonce));
    expect(markerStub()).toContain(`\${${MARKER_NONCE_ENV}:?}`);
    expect(markerCommand().slice(0, 2)).toEqual(['/bin/sh', '-c']);
  });
});

const report: SelftestReport = {
  schema: REPORT_SCHEMA,
  provider: 'vastai',
  mode: 'marker',
  result: 'pass',
  startedAt: '2026-12-04T07:00:00.000Z',
  finishedAt: '2026-12-04T07:03:00.000Z',
  budgetUsd: 0.5,
  plan: {
    offerId: '1',
    gpuName: 'RTX 3060',
    gpuCount: 1,
    pricePerHour: 0.06,
    worstCaseUsd: 0.02,
    ceilingPerHour: 1.5,
    maxSeconds: 1200,
    image: 'busybox:1.36',
    location: null,
  },
  stack: null,
  instanceId: '42',
  tag: 'anex.anex-selftest.5e1f7e57-0000-4000-8abc-0123456789ab',
  steps: STEP_NAMES.map((name) => ({ name, status: 'ok', seconds: 1, message: '' })),
  leftovers: { cleanedBefore: 0, remaining: 0 },
  spentUsd: 0.003,
  logs: null,
};

describe('selftest report (schema anex.selftest/v1)', () => {
  it('keeps its keys: scripts and bug reports read them', () => {
    const json = JSON.parse(renderJson(report)) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual([
      'schema',
      'provider',
      'mode',
      'result',
      'startedAt',
      'finishedAt',
      'budgetUsd',
      'plan',
      'stack',
      'instanceId',
      'tag',
      'steps',
      'leftovers',
      'spentUsd',
      'logs',
    ]);
    expect(json.schema).toBe('anex.selftest/v1');
    expect(Object.keys(json.plan as object)).toEqual([
      'offerId',
      'gpuName',
      'gpuCount',
      'pricePerHour',
      'worstCaseUsd',
      'ceilingPerHour',
      'maxSeconds',
      'image',
      'location',
    ]);
    expect(Object.keys((json.steps as object[])[0] as object)).toEqual([
      'name',
      'status',
      'seconds',
      'message',
    ]);
    expect((json.steps as { name: string }[]).map((s) => s.name)).toEqual([
      'leftovers',
      'plan',
      'create',
      'visible-by-tag',
      'running',
      'marker',
      'billed-price',
      'destroy',
      'gone',
      'no-leftovers',
    ]);
  });

  it.each([
    [
      { name: 'create', status: 'ok', seconds: 1.24, message: 'instance 42' },
      '✔ create accepted (1.2 s): instance 42\n',
    ],
    [
      { name: 'marker', status: 'fail', seconds: 60, message: 'not seen' },
      '✘ marker seen in the provider log (60.0 s): not seen\n',
    ],
    [{ name: 'gone', status: 'skipped', seconds: null, message: '' }, '- instance gone\n'],
  ] as const)('prints a step as %j', (step, line) => {
    expect(renderStep(step)).toBe(line);
  });
});

describe('selftest report, agent mode (--agent-url)', () => {
  const agent: SelftestReport = {
    ...report,
    mode: 'agent',
    plan: null,
    stack: {
      agentUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com',
      namespace: 'ml',
      pod: 'anex-selftest-0a1b2c3d',
      podUid: '0f9c1e4a-2b7d-4c1e-9a8b-1234567890ab',
      clusterId: 'prod',
      ceilingPerHour: 1.5,
      worstCaseUsd: 0.5,
      maxSeconds: 1200,
      activeDeadlineSeconds: 960,
      image: 'busybox:1.36',
    },
    steps: AGENT_STEP_NAMES.map((name) => ({ name, status: 'ok', seconds: 1, message: '' })),
  };

  it('adds the stack and the endpoint step; the marker mode keys stay', () => {
    const json = JSON.parse(renderJson(agent)) as Record<string, unknown>;
    expect(json.mode).toBe('agent');
    expect(json.plan).toBeNull();
    expect(Object.keys(json.stack as object)).toEqual([
      'agentUrl',
      'namespace',
      'pod',
      'podUid',
      'clusterId',
      'ceilingPerHour',
      'worstCaseUsd',
      'maxSeconds',
      'activeDeadlineSeconds',
      'image',
    ]);
    expect((json.steps as { name: string }[]).map((s) => s.name)).toEqual([
      'endpoint',
      'leftovers',
      'plan',
      'create',
      'visible-by-tag',
      'running',
      'marker',
      'billed-price',
      'destroy',
      'gone',
      'no-leftovers',
    ]);
  });

  it.each([
    [
      { name: 'endpoint', status: 'ok', seconds: 0.2, message: 'HTTP 400' },
      '✔ agent endpoint reachable (0.2 s): HTTP 400\n',
    ],
    [
      { name: 'create', status: 'ok', seconds: 0.1, message: '' },
      '✔ pod accepted by the API server (0.1 s)\n',
    ],
    [
      { name: 'running', status: 'fail', seconds: 5, message: 'x' },
      '✘ agent bootstrapped and reported started (5.0 s): x\n',
    ],
    [
      { name: 'marker', status: 'skipped', seconds: null, message: '' },
      '- marker seen in the provider log\n',
    ],
  ] as const)('prints a step as %j', (step, line) => {
    expect(renderStep(step, 'agent')).toBe(line);
  });
});
