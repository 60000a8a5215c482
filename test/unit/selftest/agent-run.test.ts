import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { LogOptions } from '../../../lib/providers/provider.ts';
import { PodRefused, type SelftestPods } from '../../../lib/selftest/agent-kube.ts';
import { runAgentSelftest } from '../../../lib/selftest/agent-run.ts';
import { HttpLog } from '../../../lib/selftest/http-log.ts';
import type { SelftestReport, StepName } from '../../../lib/selftest/report.ts';
import { MARKER_NONCE_ENV, markerLine } from '../../../lib/tunnel/agent/stub.ts';
import { FakeProvider } from '../../support/fakes/fake-provider.ts';

/**
 * The agent mode's run where the e2e test (test/e2e/cli/selftest-agent.test.ts, a healthy
 * local stack) cannot go: a stack that stops cleaning up, a stack that holds the pod, a
 * webhook that refuses it, an endpoint that is not there. The stack is played in memory —
 * the pod calls (our SelftestPods interface) and the provider (the FakeProvider, with a log).
 */

/** The provider with a log API that serves what the machine of `pod` printed. */
class LoggingProvider extends FakeProvider {
  lines: string[] = [];
  async logs(_id: string, _options: LogOptions): Promise<string[]> {
    return this.lines;
  }
}

type StackBehaviour = 'healthy' | 'dead-after-renting' | { held: string; message: string } | 'refuses';

/** A stack in memory: renting on create, finalizing on delete — or not, as `behaviour` says. */
function stack(provider: LoggingProvider, behaviour: StackBehaviour) {
  const pods = new Map<string, V1Pod>();
  const forced: string[] = [];
  let uids = 0;
  const api: SelftestPods = {
    async create(_ns, pod) {
      if (behaviour === 'refuses')
        throw new PodRefused('the API server refused the pod (HTTP 400): admission webhook "anex" denied it');
      const uid = `0f9c1e4a-2b7d-4c1e-9a8b-00000000000${uids++}`;
      const created: V1Pod = structuredClone({ ...pod, metadata: { ...pod.metadata, uid } });
      const name = pod.metadata?.name as string;
      if (typeof behaviour === 'object') {
        created.status = {
          phase: 'Pending',
          conditions: [
            {
              type: 'anex.sh/Provisioned',
              status: 'False',
              reason: behaviour.held,
              message: behaviour.message,
            },
          ],
        };
      } else {
        const nonce = pod.spec?.containers[0]?.env?.find((e) => e.name === MARKER_NONCE_ENV)?.value as string;
        provider.seed({
          id: 'i-1',
          tag: { clusterId: 'prod', podUid: uid },
          state: { phase: 'running' },
          pricePerHour: 0.2,
          createdAt: 0,
        });
        provider.lines = ['booting', markerLine(nonce)];
        created.status = {
          phase: 'Running',
          containerStatuses: [
            {
              name: 'selftest',
              image: 'busybox:1.36',
              imageID: '',
              ready: true,
              restartCount: 0,
              state: { running: { startedAt: new Date(0) } },
            },
          ],
        };
      }
      pods.set(name, created);
      return structuredClone(created);
    },
    async get(_ns, name) {
      return pods.get(name);
    },
    async delete(_ns, name, options = {}) {
      const pod = pods.get(name);
      if (pod === undefined) return 'gone';
      if (options.gracePeriodSeconds === 0) {
        forced.push(name);
        pods.delete(name);
        return 'deleted';
      }
      if (behaviour !== 'dead-after-renting') {
        // The stack's graceful deletion: the machine destroyed, then the pod finalized.
        for (const instance of provider.live()) await provider.destroy(instance.id, {});
        pods.delete(name);
      }
      return 'deleted';
    },
    async list() {
      return [...pods.values()];
    },
  };
  return { api, pods, forced };
}

/** A clock that moves a second per reading: the waits' deadlines pass without waiting. */
function fastClock(): () => number {
  let t = Date.parse('2026-12-04T10:00:00Z');
  return () => {
    t += 1000;
    return t;
  };
}

const anexAnswer: typeof fetch = async () =>
  new Response('{"error":"query parameter podUid must be a pod UID"}', {
    status: 400,
    headers: { 'content-type': 'application/json' },
  });

async function run(behaviour: StackBehaviour, fetch: typeof globalThis.fetch = anexAnswer) {
  const provider = new LoggingProvider('vastai');
  const cluster = stack(provider, behaviour);
  let created = 0;
  const pods: SelftestPods = {
    ...cluster.api,
    create: (ns, pod) => {
      created += 1;
      return cluster.api.create(ns, pod);
    },
  };
  const report = await runAgentSelftest({
    providerName: 'vastai',
    provider,
    http: new HttpLog([]),
    pods,
    namespace: 'ml',
    agentUrl: 'https://agents.example.com',
    budgetUsd: 0.5,
    maxDurationMs: 20 * 60_000,
    confirm: async () => true,
    pollMs: 1,
    now: fastClock(),
    fetch,
  });
  return { report, provider, cluster, created: () => created };
}

function statuses(report: SelftestReport): Record<string, string> {
  return Object.fromEntries(report.steps.map((s) => [s.name, s.status]));
}

function message(report: SelftestReport, name: StepName): string {
  return report.steps.find((s) => s.name === name)?.message ?? '';
}

describe('runAgentSelftest', () => {
  it('a healthy stack: every step passes, the stack destroyed the machine', async () => {
    const { report, provider } = await run('healthy');
    expect(report.steps.filter((s) => s.status !== 'ok')).toEqual([]);
    expect(report.result).toBe('pass');
    expect(report.instanceId).toBe('i-1');
    expect(report.stack?.clusterId).toBe('prod');
    expect(message(report, 'billed-price')).toBe('billed $0.2000/h, price-max $1.5000/h');
    expect(provider.live()).toEqual([]);
  });

  it('a stack that stops cleaning up: the selftest destroys the machine itself, removes the pod, and gone fails saying so', async () => {
    const { report, provider, cluster } = await run('dead-after-renting');
    expect(statuses(report)).toMatchObject({
      'billed-price': 'ok',
      destroy: 'ok',
      gone: 'fail',
      'no-leftovers': 'ok',
    });
    expect(message(report, 'gone')).toMatch(
      /^the stack did not clean up: its instance still listed \(running\) and the pod not finalized — waited \d+ s for the stack to destroy the instance and finalize the pod \(the destroy's share of --max-minutes\); destroyed instance i-1 itself, removed the pod outright$/,
    );
    expect(report.result).toBe('fail');
    expect(provider.destroyed).toEqual(['i-1']);
    expect(cluster.pods.size).toBe(0);
    expect(report.leftovers.remaining).toBe(0);
  });

  it.each([
    [
      'SpendLimit',
      'SpendLimit: namespace ml $/h 9.00 + 1.50 > budget 10.00/h; nothing was rented, the pod waits until it fits',
    ],
    ['NamespaceNotEnabled', 'Namespace ml may not rent machines: the operator has not enabled it'],
  ])(
    'a pod the stack holds with %s fails "rented" quoting the condition; nothing rented',
    async (held, text) => {
      const { report, provider } = await run({ held, message: text });
      expect(statuses(report)).toMatchObject({
        create: 'ok',
        'visible-by-tag': 'fail',
        running: 'skipped',
        destroy: 'ok',
        gone: 'ok',
        'no-leftovers': 'ok',
      });
      expect(message(report, 'visible-by-tag')).toBe(
        `the stack holds the pod: ${held}: ${text}; nothing was rented for it`,
      );
      expect(provider.creates).toEqual([]);
      expect(report.spentUsd).toBe(0);
    },
  );

  it("a webhook's refusal fails create with the API server's words; nothing to clean", async () => {
    const { report } = await run('refuses');
    expect(statuses(report)).toMatchObject({ create: 'fail', destroy: 'skipped', gone: 'skipped' });
    expect(message(report, 'create')).toBe(
      'the API server refused the pod (HTTP 400): admission webhook "anex" denied it',
    );
  });

  it.each([
    [
      'unreachable',
      (async () => {
        throw new TypeError('fetch failed', {
          cause: { code: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND' },
        });
      }) as typeof fetch,
      /^GET https:\/\/agents\.example\.com\/v1\/pod-alive failed: ENOTFOUND \(getaddrinfo ENOTFOUND\); nothing was created$/,
    ],
    [
      'not anex',
      (async () =>
        new Response('<html/>', { status: 404, headers: { 'content-type': 'text/html' } })) as typeof fetch,
      /answered HTTP 404 \(text\/html\) that is not the anex agent endpoint's/,
    ],
  ])('an endpoint %s fails the first step and no pod is created', async (_what, fetch, text) => {
    const { report, created } = await run('healthy', fetch);
    expect(statuses(report)).toMatchObject({ endpoint: 'fail', leftovers: 'skipped', create: 'skipped' });
    expect(message(report, 'endpoint')).toMatch(text);
    expect(created()).toBe(0);
  });
});
