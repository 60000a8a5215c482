import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AnexError } from '../../lib/errors.ts';
import type { Offer } from '../../lib/offers/offer.ts';
import { RunPodProvider } from '../../lib/providers/runpod/provider.ts';
import { VastAiProvider } from '../../lib/providers/vastai/provider.ts';
import { MachineRunner } from '../../lib/sim/machines/runner.ts';
import { RunPodSim } from '../../lib/sim/runpod/runpod-sim.ts';
import { VastAiSim } from '../../lib/sim/vastai/vastai-sim.ts';
import { MARKER_NONCE_ENV, markerCommand, markerLine } from '../../lib/tunnel/agent/stub.ts';
import { eventually } from '../support/index.ts';
import { aRequirements, aTag } from '../unit/providers/builders.ts';

/**
 * The providers' log APIs, as the simulators keep them and the adapters read them (ADR 0018):
 * - Vast `PUT /api/v0/instances/request_logs/{id}/` — vastai.openapi.yaml `showLogs` (body
 *   `tail`/`filter` strings, `daemon_logs: "true"`; 200 `result_url`, 404 `invalid_id`) and
 *   vast-cli `vastai/api/instances.py` `logs` + `_poll_result_url` (the URL fetched with a plain
 *   GET until 200); S3's own answers for the upload (NoSuchKey until there, an unknown
 *   `Authorization` refused).
 * - RunPod `GET /v2/pods/{id}/logs` — v2 OpenAPI getPodLogs (SSE, `source`, `tail`); the
 *   stream stays open, so the adapter's read is its window (test/contract/runpod-log-stream.test.ts).
 * In both, the container lines are what the simulated machine's process really printed.
 */

const KEY = 'logs-contract-key';
const vast = new VastAiSim({ seed: 3, timings: { provisionMs: 5, loadingMs: 20 }, logUploadMs: 200 });
const runpod = new RunPodSim({ seed: 3 });
let runner: MachineRunner;

beforeAll(async () => {
  await Promise.all([vast.start(), runpod.start()]);
  runner = new MachineRunner({ hosts: { vastai: vast, runpod }, pollMs: 50 });
  runner.start();
});

afterAll(async () => {
  await runner.stop();
  await Promise.all([vast.stop(), runpod.stop()]);
});

afterEach(() => {
  vast.assertNoInstances();
  runpod.assertNoInstances();
});

const launch = (nonce: string) => ({
  image: 'busybox:1.36',
  command: markerCommand(),
  env: { [MARKER_NONCE_ENV]: nonce },
  diskGb: 10,
});

async function rentAndRead(provider: VastAiProvider | RunPodProvider, offer: Offer, nonce: string) {
  const created = await provider.create(offer, launch(nonce), aTag(), {});
  if (created.outcome !== 'created') throw new Error(`not created: ${created.outcome}`);
  const id = created.instance.id;
  try {
    return await eventually(
      async () => {
        const lines = await provider.logs(id, { tail: 50 });
        return lines.some((l) => l.includes(markerLine(nonce))) ? lines : undefined;
      },
      { what: `the marker in ${id}'s log`, timeoutMs: 30_000 },
    );
  } finally {
    await provider.destroy(id, {});
  }
}

async function put(path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${vast.url}${path}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('Vast request_logs (simulator)', () => {
  it.each([
    ['tail as a number (the OpenAPI types it string)', { tail: 1000 }, /tail must be a string of digits/],
    ['tail that is not digits', { tail: 'all' }, /tail must be a string of digits/],
    ['filter that is not a string', { filter: 5 }, /filter must be a string/],
    ['daemon_logs other than "true"', { daemon_logs: true }, /daemon_logs must be "true"/],
  ])('refuses %s with 400 invalid_args', async (_what, body, message) => {
    const answer = await put('/api/v0/instances/request_logs/9500000/', body);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_args');
    expect(String(answer.body.msg)).toMatch(message);
  });

  it('answers 404 invalid_id for an instance it does not know', async () => {
    const answer = await put('/api/v0/instances/request_logs/123/', {});
    expect(answer).toEqual({ status: 404, body: { error: 'invalid_id', msg: 'Invalid instance id.' } });
  });

  it('uploads later: the result_url is NoSuchKey first, refuses an Authorization header, then serves the text', async () => {
    const provider = new VastAiProvider({ apiKey: KEY, baseUrl: vast.url });
    const [offer] = await provider.listOffers(aRequirements('vastai'), {});
    const created = await provider.create(offer as Offer, launch('n0'), aTag(), {});
    if (created.outcome !== 'created') throw new Error('not created');
    try {
      const answer = await put(`/api/v0/instances/request_logs/${created.instance.id}/`, { tail: '10' });
      expect(answer.status).toBe(200);
      expect(answer.body.success).toBe(true);
      const url = String(answer.body.result_url);
      expect(url).toMatch(/\/vast\.ai\/instance_logs\/[0-9a-f]{32}\.log$/);
      const early = await fetch(url);
      expect(early.status).toBe(404);
      expect(await early.text()).toContain('<Code>NoSuchKey</Code>');
      await eventually(async () => ((await fetch(url)).status === 200 ? true : undefined), {
        what: 'the upload',
        timeoutMs: 5_000,
      });
      const withKey = await fetch(url, { headers: { authorization: `Bearer ${KEY}` } });
      expect(withKey.status).toBe(400);
      expect(await withKey.text()).toContain('Unsupported Authorization Type');
    } finally {
      await provider.destroy(created.instance.id, {});
    }
  });
});

describe('provider.logs() reads what the container printed', () => {
  it('Vast: request_logs, then the upload, without the key', async () => {
    const provider = new VastAiProvider({ apiKey: KEY, baseUrl: vast.url });
    const [offer] = await provider.listOffers(aRequirements('vastai'), {});
    const lines = await rentAndRead(provider, offer as Offer, 'vastnonce1');
    expect(lines).toContain(markerLine('vastnonce1'));
  });

  it('RunPod: the container source of the event stream', async () => {
    const provider = new RunPodProvider({ apiKey: KEY, baseUrl: runpod.url });
    const offers = await provider.listOffers(aRequirements('runpod'), {});
    const lines = await rentAndRead(provider, offers[0] as Offer, 'podnonce1');
    expect(lines).toContain(markerLine('podnonce1'));
  });

  it.each([
    ['Vast', () => new VastAiProvider({ apiKey: KEY, baseUrl: vast.url }), '123'],
    ['RunPod', () => new RunPodProvider({ apiKey: KEY, baseUrl: runpod.url }), 'nosuchpod'],
  ])('%s: an unknown instance is kind not-found', async (_name, make, id) => {
    const error = await make()
      .logs(id, {})
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AnexError);
    expect((error as AnexError).kind).toBe('not-found');
  });
});
