import { describe, expect, it } from 'vitest';
import type { AnexError } from '../../../lib/errors.ts';
import type { InstanceState } from '../../../lib/providers/provider.ts';
import { RunPodClient, runPodServer } from '../../../lib/providers/runpod/client.ts';
import { toInstance, toInstanceState } from '../../../lib/providers/runpod/mapper.ts';
import type { RunPodPod } from '../../../lib/providers/runpod/schemas.ts';

function answering(status: number, body: unknown, apiKey = 'k') {
  const fetchFn: typeof globalThis.fetch = async () =>
    new Response(typeof body === 'string' ? body : JSON.stringify(body), { status });
  return new RunPodClient({ baseUrl: 'http://127.0.0.1:9', apiKey, fetch: fetchFn, maxAttempts: 1 });
}

const problem = (status: number, detail: string) => ({ title: 'x', status, detail });
const CAPACITY =
  'There are no longer any instances available with the requested specifications. Please refresh and try again.';

describe('RunPod create answers', () => {
  it.each([
    ['201 pod', 201, { id: 'p1', name: 'n', status: 'PROVISIONING' }, 'created'],
    ['400 capacity', 400, problem(400, CAPACITY), 'capacity'],
    ['400 no CUDA host', 400, problem(400, 'No compatible CUDA host is currently available.'), 'capacity'],
    // v2 POST /v2/pods 400: "… this GPU and data center combination could not be placed → Try
    // your next candidate" (runpod audit #5): refused for this candidate, not an error of the request.
    ['400 rule violation', 400, problem(400, 'disk must be at least 10 GB for this template'), 'refused'],
    ['401', 401, problem(401, 'invalid API key'), 'auth'],
    ['403 pool not accessible (skip this candidate)', 403, problem(403, 'pool not accessible'), 'capacity'],
    // v2 ForbiddenError: a valid key without the scope for the action (runpod audit #6).
    [
      '403 key scope',
      403,
      problem(
        403,
        'The bearer token is valid, but it does not grant access to the requested resource or action.',
      ),
      'auth',
    ],
    ['422 unknown GPU type', 422, problem(422, 'Unknown GPU type: NVIDIA Imaginary 9000'), 'invalid-input'],
    ['402', 402, problem(402, 'insufficient balance'), 'balance'],
    [
      '422',
      422,
      { ...problem(422, 'Request validation failed.'), errors: ['$.gpu.count: must be >= 1'] },
      'invalid-input',
    ],
    ['500', 500, problem(500, 'boom'), 'unknown-outcome'],
    ['201 unreadable', 201, '<html>', 'unknown-outcome'],
  ])('%s → %s', async (_name, status, body, expected) => {
    let kind: string;
    try {
      kind = (await answering(status, body).createPod({ name: 'n', image: 'i' }, {})).kind;
    } catch (error) {
      kind = (error as AnexError).kind;
    }
    expect(kind).toBe(expected);
  });
});

describe('RunPod 403', () => {
  it('on create names the 403 in the reason and keeps the key out of it', async () => {
    const client = answering(403, problem(403, 'pool not accessible for key rp-key-1234'), 'rp-key-1234');
    const answer = await client.createPod({ name: 'n', image: 'i' }, {});
    expect(answer).toEqual({
      kind: 'capacity',
      reason: 'HTTP 403 on this GPU pool, candidate skipped: pool not accessible for key REDACTED',
    });
  });

  it.each<[string, (client: RunPodClient) => Promise<unknown>]>([
    ['GET /v2/catalog/gpus', (c) => c.listGpuTypes({ count: 1 }, {})],
    ['GET /v2/catalog/datacenters', (c) => c.listDataCenters({})],
    ['GET /v2/pods', (c) => c.listPodsPage(undefined, {})],
    ['GET /v2/pods/{id}', (c) => c.getPod('p1', {})],
    ['DELETE /v2/pods/{id}', (c) => c.deletePod('p1', {})],
  ])('on read %s stays auth', async (_name, call) => {
    await expect(call(answering(403, problem(403, 'missing scope')))).rejects.toMatchObject({
      kind: 'auth',
    });
  });
});

function aPod(fields: Partial<RunPodPod>): RunPodPod {
  return { id: 'p1', name: 'n', status: 'RUNNING', runtime: null, ...fields } as RunPodPod;
}

describe('RunPod pod status mapping', () => {
  it.each<[string, RunPodPod | null, InstanceState['phase']]>([
    ['404', null, 'gone'],
    ['TERMINATED', aPod({ status: 'TERMINATED' }), 'gone'],
    ['PROVISIONING', aPod({ status: 'PROVISIONING' }), 'pending'],
    ['STARTING', aPod({ status: 'STARTING' }), 'starting'],
    ['RUNNING, runtime null', aPod({ status: 'RUNNING', runtime: null }), 'starting'],
    // runpod audit #9: `runtime.ports` is optional (the 201 example shows `"runtime": {}`); a
    // runtime is the container up, ports or not.
    ['RUNNING, runtime without ports', aPod({ status: 'RUNNING', runtime: { uptime: 1 } }), 'running'],
    ['RUNNING, empty runtime', aPod({ status: 'RUNNING', runtime: {} }), 'running'],
    ['RUNNING with ports', aPod({ status: 'RUNNING', runtime: { uptime: 1, ports: [] } }), 'running'],
    ['EXITED', aPod({ status: 'EXITED' }), 'exited'],
    ['ERROR', aPod({ status: 'ERROR' }), 'failed'],
  ])('%s', (_name, pod, phase) => {
    expect(toInstanceState(pod).phase).toBe(phase);
  });

  it('marks ERROR as the host fault', () => {
    expect(toInstanceState(aPod({ status: 'ERROR' }))).toMatchObject({ fault: 'host' });
  });
});

describe('RUNPOD_API_URL with or without /v2 (runpod audit §1: docs say https://api.runpod.io/v2, OpenAPI servers https://api.runpod.io)', () => {
  it.each([
    [undefined, 'https://api.runpod.io'],
    ['https://api.runpod.io', 'https://api.runpod.io'],
    ['https://api.runpod.io/v2', 'https://api.runpod.io'],
    ['https://api.runpod.io/v2/', 'https://api.runpod.io'],
    ['http://127.0.0.1:4000/', 'http://127.0.0.1:4000'],
    ['https://proxy.example.com/runpod/v2', 'https://proxy.example.com/runpod'],
  ])('%s → requests go to %s/v2/…', (given, server) => {
    expect(runPodServer(given)).toBe(server);
  });
});

describe('the pod’s public IP (runpod audit #8: a live pod lists an unrequested http port on a CGNAT address)', () => {
  const cgnat = { ip: '100.65.14.155', private: 19123, public: 60821, type: 'http' };
  const ssh = { ip: '213.173.104.74', private: 22, public: 35558, type: 'tcp' };
  it.each([
    [
      'ssh.direct.host wins',
      { ssh: { direct: { host: '203.0.113.7' } }, runtime: { ports: [cgnat, ssh] } },
      '203.0.113.7',
    ],
    ['else a tcp port with a public address', { runtime: { ports: [cgnat, ssh] } }, '213.173.104.74'],
    ['never the CGNAT http port', { runtime: { ports: [cgnat] } }, undefined],
    ['never a private tcp address', { runtime: { ports: [{ ...ssh, ip: '10.1.2.3' }] } }, undefined],
    ['nothing without a runtime', { runtime: null }, undefined],
  ])('%s', (_label, fields, expected) => {
    expect(toInstance(aPod({ status: 'RUNNING', ...(fields as Partial<RunPodPod>) })).publicIp).toBe(
      expected,
    );
  });
});
