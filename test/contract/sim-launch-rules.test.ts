import { describe, expect, it } from 'vitest';
import { PRIVATE_IMAGE_LOGIN } from '../../lib/sim/common/images.ts';
import { RunPodSim } from '../../lib/sim/runpod/runpod-sim.ts';
import { VastAiSim } from '../../lib/sim/vastai/vastai-sim.ts';
import { manualClock } from '../unit/providers/builders.ts';
import { useSim } from '../unit/providers/sim-lifecycle.ts';

/**
 * The simulators refuse, or fail to start, what the real services refuse — each rule with the
 * source it is taken from. The old launch shapes anex sent (one-string onstart, a 16.7 KB
 * script, a shell-quoted `args` string) are among them.
 */

const KEY = { authorization: 'Bearer contract-test', 'content-type': 'application/json' };
const IMAGE = 'ghcr.io/example/trainer:1';
const OLD_ONE_STRING = `/bin/sh -c '${'echo anex; '.repeat(10)}'`;
const BIG_SCRIPT = `#!/bin/sh\n${'echo "a line of the old agent script"\n'.repeat(500)}`; // ≈ 17 KB, like agent.sh

// ---- Vast.AI -------------------------------------------------------------------------------

const vastClock = manualClock();
const vast = new VastAiSim({
  seed: 7,
  offers: 60,
  now: vastClock.now,
  timings: { provisionMs: 5, loadingMs: 20 },
});
const vastState = useSim(vast);

async function vastCreate(body: Record<string, unknown>) {
  const search = await fetch(`${vastState.url}/api/v0/bundles/`, {
    method: 'POST',
    headers: KEY,
    body: JSON.stringify({ rentable: { eq: true }, limit: 5 }),
  });
  const { offers } = (await search.json()) as { offers: { id: number }[] };
  const ask = offers[0]?.id;
  const response = await fetch(`${vastState.url}/api/v0/asks/${ask}/`, {
    method: 'PUT',
    headers: KEY,
    body: JSON.stringify({ image: IMAGE, disk: 20, runtype: 'args', ...body }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function vastStatusAfterBoot(id: unknown) {
  vastClock.advance(60_000);
  const response = await fetch(`${vastState.url}/api/v0/instances/${id}/`, { headers: KEY });
  const { instances } = (await response.json()) as { instances: Record<string, unknown> };
  await fetch(`${vastState.url}/api/v0/instances/${id}/`, { method: 'DELETE', headers: KEY });
  return { actual: instances.actual_status, message: instances.status_msg };
}

describe('Vast.AI simulator: create refusals (400 invalid_args)', () => {
  it.each([
    {
      rule: 'onstart + args + args_str ≤ 4096 characters',
      source: 'vast-ai/docs create_instance.yaml x-input-validation (vast audit #2)',
      body: { onstart: '/bin/sh', args: ['-c', BIG_SCRIPT] },
      msg: /onstart, args and args_str together may hold at most 4096 characters \(got \d+\)/,
    },
    {
      rule: 'the old one-string onstart of a whole script is over the limit too',
      source: 'vast-ai/docs create_instance.yaml x-input-validation (vast audit #2: 16,990 characters)',
      body: { onstart: `/bin/sh -c '${BIG_SCRIPT}'` },
      msg: /at most 4096 characters/,
    },
    {
      rule: 'label ≤ 256 characters on create',
      source: 'vast-ai/docs create_instance.yaml x-input-validation (vast audit #14)',
      body: { label: 'x'.repeat(257) },
      msg: /label must be a string of at most 256 characters/,
    },
    {
      rule: 'runtype is one of its enum',
      source: 'vastai.openapi.yaml PUT /api/v0/asks/{id} requestBody runtype.enum',
      body: { runtype: 'exec' },
      msg: /runtype must be one of ssh, jupyter, args, ssh_proxy, ssh_direct, jupyter_proxy, jupyter_direct/,
    },
    {
      rule: 'env is a JSON object, not a Docker flag string',
      source:
        'vast-ai/docs creating-instances-with-api.mdx (vast audit, confirmed: "env field must be a JSON object")',
      body: { env: '-e A=1 -p 80:80' },
      msg: /env must be an object/,
    },
    {
      rule: 'args is an array of strings',
      source: 'vastai.openapi.yaml PUT /api/v0/asks/{id} requestBody args: array of string',
      body: { args: '-c echo hi' },
      msg: /args must be an array of strings/,
    },
    {
      rule: 'price within 0.001–128',
      source: 'vastai.openapi.yaml PUT /api/v0/asks/{id} requestBody price minimum/maximum',
      body: { price: 500 },
      msg: /price must be a number from 0.001 to 128/,
    },
  ])('$rule ($source)', async ({ body, msg }) => {
    const answer = await vastCreate(body);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ success: false, error: 'invalid_args' });
    expect(String(answer.body.msg)).toMatch(/^error 400\/3467: Invalid args: /);
    expect(String(answer.body.msg)).toMatch(msg);
  });
});

describe('Vast.AI simulator: what the args runtype runs', () => {
  it.each([
    {
      launch: 'exec form: onstart "/bin/sh", args ["-c", script]',
      source: 'dstack vastai/api_client.py; vast-cli create__instance --onstart-cmd bash --args -c',
      body: { onstart: '/bin/sh', args: ['-c', 'echo hi'] },
      actual: 'running',
      message: /^success, running /,
    },
    {
      launch: 'args only: the image ENTRYPOINT/CMD rules apply (CMD replaced)',
      source: 'vast audit #1 / "What the simulator does not model" 1',
      body: { args: ['python', 'train.py'] },
      actual: 'running',
      message: /^success, running /,
    },
    {
      launch: 'the old one-string onstart is taken as one executable path and fails to start',
      source:
        'vast audit #1 (zerotouchprod ARGS_STR_FIX.md, a live run: stat bash -c "…": no such file or directory)',
      body: { onstart: OLD_ONE_STRING },
      actual: 'created',
      message:
        /OCI runtime create failed: .*exec: "\/bin\/sh -c 'echo anex; .*": stat \/bin\/sh -c .*: no such file or directory/,
    },
    {
      launch: 'a program the image does not have',
      source: 'runc: exec: "<name>": executable file not found in $PATH',
      body: { onstart: 'nvidia-smi' },
      actual: 'created',
      message: /exec: "nvidia-smi": executable file not found in \$PATH/,
    },
  ])('$launch ($source)', async ({ body, actual, message }) => {
    const created = await vastCreate(body);
    expect(created.status).toBe(200);
    const status = await vastStatusAfterBoot(created.body.new_contract);
    expect(status.actual).toBe(actual);
    expect(String(status.message)).toMatch(message);
  });

  it('an image nobody published fails to pull (stricter than accepting any name)', async () => {
    const created = await vastCreate({
      image: 'ghcr.io/nobody/nothing:1',
      onstart: '/bin/sh',
      args: ['-c', 'x'],
    });
    const status = await vastStatusAfterBoot(created.body.new_contract);
    expect(String(status.message)).toMatch(/manifest for ghcr.io\/nobody\/nothing:1 not found/);
  });

  // Private images: `image_login` "-u user -p token registry" (docs creating-instances-with-api;
  // OpenAPI create-instance `image_login: string`); without the right login, docker's pull is
  // refused (the stricter reading: a wrong registry in the login is as good as none).
  it.each([
    ['no image_login', {}, false],
    ['a wrong password', { image_login: `-u ${PRIVATE_IMAGE_LOGIN.username} -p wrong ghcr.io` }, false],
    [
      'the login for another registry',
      { image_login: `-u ${PRIVATE_IMAGE_LOGIN.username} -p ${PRIVATE_IMAGE_LOGIN.password} docker.io` },
      false,
    ],
    [
      'its login',
      { image_login: `-u ${PRIVATE_IMAGE_LOGIN.username} -p ${PRIVATE_IMAGE_LOGIN.password} ghcr.io` },
      true,
    ],
  ])('a private image with %s: pulled only with its own login', async (_what, login, pulled) => {
    const created = await vastCreate({
      image: 'ghcr.io/example/private-trainer:1',
      onstart: '/bin/sh',
      args: ['-c', 'sleep 60'],
      ...login,
    });
    expect(created.status).toBe(200);
    const status = await vastStatusAfterBoot(created.body.new_contract);
    if (pulled) expect(status.actual).toBe('running');
    else expect(String(status.message)).toMatch(/pull access denied for ghcr.io\/example\/private-trainer:1/);
  });

  it('refuses an image_login that is not a string (OpenAPI: string)', async () => {
    const created = await vastCreate({ onstart: '/bin/sh', args: ['-c', 'x'], image_login: { user: 'u' } });
    expect(created.status).toBe(400);
  });
});

// ---- RunPod --------------------------------------------------------------------------------

const podClock = manualClock();
const runpod = new RunPodSim({ seed: 7, now: podClock.now });
const podState = useSim(runpod);

async function podCreate(body: Record<string, unknown>, raw?: string) {
  const response = await fetch(`${podState.url}/v2/pods`, {
    method: 'POST',
    headers: KEY,
    body:
      raw ??
      JSON.stringify({
        name: 'contract-test',
        image: IMAGE,
        gpu: { id: 'NVIDIA GeForce RTX 4090', count: 1 },
        cloud: 'SECURE',
        ...body,
      }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function podAfterBoot(id: unknown) {
  podClock.advance(10 * 60_000);
  const response = await fetch(`${podState.url}/v2/pods/${id}`, { headers: KEY });
  const pod = (await response.json()) as Record<string, unknown>;
  await fetch(`${podState.url}/v2/pods/${id}`, { method: 'DELETE', headers: KEY });
  return pod;
}

describe('RunPod simulator: create rules', () => {
  it('accepts entrypoint/cmd arrays (runpod/docs create-a-pod.mdx at 4962c60, runpod audit #1)', async () => {
    const created = await podCreate({ entrypoint: ['/bin/sh', '-c', 'echo hi'] });
    expect(created.status).toBe(201);
    const pod = await podAfterBoot(created.body.id);
    expect(pod.status).toBe('RUNNING');
    expect(pod.runtime).not.toBeNull();
  });

  it('refuses entrypoint that is not an array of strings with 422 (closed CreatePodRequest schema)', async () => {
    const created = await podCreate({ entrypoint: '/bin/sh -c x' });
    expect(created.status).toBe(422);
    expect(JSON.stringify(created.body)).toContain('$.entrypoint: must be an array of strings');
  });

  it('answers 413 to a body over 102400 bytes (create-a-pod.mdx at 4962c60, runpod audit §1)', async () => {
    const created = await podCreate({ env: { BIG: 'x'.repeat(110_000) } });
    expect(created.status).toBe(413);
    expect(created.body).toMatchObject({ status: 413 });
  });

  it('the old shell-quoted `args` string on an image whose ENTRYPOINT does not run it: split into words for that ENTRYPOINT, the script never runs (runpod audit #1, #2: splitting undocumented, the stricter reading)', async () => {
    const created = await podCreate({
      image: 'vllm/vllm-openai:latest',
      args: `/bin/sh -c 'echo "from the agent"; exit 0'`,
    });
    expect(created.status).toBe(201);
    const start = runpod.containerOf(String(created.body.id));
    await podAfterBoot(created.body.id);
    expect(start).toMatchObject({ ok: true });
    expect(start?.ok === true ? start.launch.argv : []).toEqual([
      'python3',
      '-m',
      'vllm.entrypoints.openai.api_server',
      '/bin/sh',
      '-c',
      "'echo",
      '"from',
      'the',
      'agent";',
      'exit',
      "0'",
    ]);
  });

  it('exec form on the same kind of image: entrypoint replaces its ENTRYPOINT and drops its CMD (docker run --entrypoint)', async () => {
    const created = await podCreate({
      image: 'ollama/ollama:latest',
      entrypoint: ['/bin/sh', '-c', 'echo hi'],
    });
    const start = runpod.containerOf(String(created.body.id));
    await podAfterBoot(created.body.id);
    expect(start?.ok === true ? start.launch.argv : []).toEqual(['/bin/sh', '-c', 'echo hi']);
  });

  it('an entrypoint the image does not have: RUNNING without a runtime, forever (runc exec failure; RunPod restarts the container and gives no structured signal, runpod audit #7, #11)', async () => {
    const created = await podCreate({ entrypoint: ['/agent'] });
    expect(created.status).toBe(201);
    const pod = await podAfterBoot(created.body.id);
    expect(pod.status).toBe('RUNNING');
    expect(pod.runtime ?? null).toBeNull();
  });
});

describe('RunPod simulator: registry credentials (runpod-rest-v2.openapi.json /v2/registries)', () => {
  const registries = (method: string, path = '', body?: unknown) =>
    fetch(`${podState.url}/v2/registries${path}`, {
      method,
      headers: KEY,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it.each([
    ['a missing password (CreateRegistryRequest: required)', { name: 'n', username: 'u' }, '$.password'],
    ['an empty username (minLength 1)', { name: 'n', username: '', password: 'p' }, '$.username'],
    [
      'an extra field (additionalProperties false)',
      { name: 'n', username: 'u', password: 'p', registry: 'ghcr.io' },
      "'registry' not allowed",
    ],
  ])('refuses %s with 422', async (_what, body, field) => {
    const response = await registries('POST', '', body);
    expect(response.status).toBe(422);
    expect(JSON.stringify(await response.json())).toContain(field);
  });

  it('answers 201 {id, name}, lists and gets without the login (write-only), refuses a taken name (stricter reading)', async () => {
    const created = await registries('POST', '', {
      name: 'contract-cred',
      username: 'u',
      password: 'secret-p',
    });
    expect(created.status).toBe(201);
    const { id, name } = (await created.json()) as { id: string; name: string };
    expect(name).toBe('contract-cred');
    const listed = JSON.stringify(await (await registries('GET')).json());
    expect(listed).toContain(id);
    expect(listed).not.toContain('secret-p');
    expect(await (await registries('GET', `/${id}`)).json()).toEqual({ id, name });
    expect(
      (await registries('POST', '', { name: 'contract-cred', username: 'u', password: 'p' })).status,
    ).toBe(400);
    expect((await registries('DELETE', `/${id}`)).status).toBe(204);
    expect((await registries('DELETE', `/${id}`)).status).toBe(404);
  });

  it('refuses a pod naming an unknown credential (POST /v2/pods 404 NotFoundError), one whose `registry` is no string (ContainerConfig: [string, null]: 422), and a delete while a pod uses it ("Rejected if any pod currently uses this credential")', async () => {
    expect((await podCreate({ registry: 'nope' })).status).toBe(404);
    expect((await podCreate({ registry: 7 })).status).toBe(422);
    const made = await registries('POST', '', { name: 'in-use', username: 'u', password: 'p' });
    const { id } = (await made.json()) as { id: string };
    const pod = await podCreate({ registry: id, entrypoint: ['/bin/sh', '-c', 'sleep 60'] });
    expect(pod.status).toBe(201);
    expect(pod.body.registry).toBe(id);
    expect((await registries('DELETE', `/${id}`)).status).toBe(400);
    await podAfterBoot(pod.body.id); // deletes the pod
    expect((await registries('DELETE', `/${id}`)).status).toBe(204);
  });

  it.each([
    ['no credential', undefined, false],
    ['a credential with a wrong password', 'wrong', false],
    ['its own login', PRIVATE_IMAGE_LOGIN.password, true],
  ])(
    'a private image with %s: pulled only with its own login (else RUNNING without a runtime)',
    async (_what, password, pulled) => {
      let registry: string | undefined;
      if (password !== undefined) {
        const made = await registries('POST', '', {
          name: `private-${password}`,
          username: PRIVATE_IMAGE_LOGIN.username,
          password,
        });
        registry = ((await made.json()) as { id: string }).id;
      }
      const created = await podCreate({
        image: 'ghcr.io/example/private-trainer:1',
        entrypoint: ['/bin/sh', '-c', 'sleep 60'],
        ...(registry === undefined ? {} : { registry }),
      });
      expect(created.status).toBe(201);
      const pod = await podAfterBoot(created.body.id);
      if (pulled) expect(pod.runtime).not.toBeNull();
      else expect(pod.runtime ?? null).toBeNull();
      if (registry !== undefined) await registries('DELETE', `/${registry}`);
    },
  );

  it('says why in the pod’s system log (getPodLogs SSE: id, data {ts, source, line}): docker’s pull access denied', async () => {
    const created = await podCreate({
      image: 'ghcr.io/example/private-trainer:1',
      entrypoint: ['/bin/sh', '-c', 'sleep 60'],
    });
    podClock.advance(10 * 60_000);
    const response = await fetch(`${podState.url}/v2/pods/${created.body.id}/logs?source=system`, {
      headers: KEY,
    });
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    // The stream stays open after the backfill (test/contract/runpod-log-stream.test.ts): read
    // until the complete events carry the pull error, then leave.
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!/docker login.*\n\n/s.test(text)) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
    }
    await reader.cancel();
    const events = text.split('\n\n').filter(Boolean);
    const data = events.map(
      (e) => JSON.parse(e.split('\ndata: ')[1] ?? '{}') as { source: string; line: string },
    );
    expect(data.every((d) => d.source === 'system')).toBe(true);
    expect(data.map((d) => d.line).join('\n')).toContain(
      "pull access denied for ghcr.io/example/private-trainer, repository does not exist or may require 'docker login'",
    );
    await podAfterBoot(created.body.id);
  });
});
