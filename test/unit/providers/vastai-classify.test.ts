import { describe, expect, it } from 'vitest';
import type { AnexError } from '../../../lib/errors.ts';
import type { InstanceState } from '../../../lib/providers/provider.ts';
import { VastAiClient } from '../../../lib/providers/vastai/client.ts';
import { faultOfStatusMessage } from '../../../lib/providers/vastai/errors.ts';
import { toInstanceState } from '../../../lib/providers/vastai/mapper.ts';
import type { VastInstance } from '../../../lib/providers/vastai/schemas.ts';

/** A client whose server answers `status` with `body` (a string is sent as is). */
function answering(status: number, body: unknown) {
  const fetchFn: typeof globalThis.fetch = async () =>
    new Response(typeof body === 'string' ? body : JSON.stringify(body), { status });
  return new VastAiClient({ baseUrl: 'http://127.0.0.1:9', apiKey: 'k', fetch: fetchFn, maxAttempts: 1 });
}

async function outcome(status: number, body: unknown): Promise<string> {
  try {
    const answer = await answering(status, body).createInstance('41000123', { image: 'x' }, {});
    return answer.kind;
  } catch (error) {
    return (error as AnexError).kind;
  }
}

describe('Vast create answers', () => {
  it.each([
    ['200 success', 200, { success: true, new_contract: 9512345 }, 'created'],
    // providers.md §2.7: any new_contract in any response means an instance exists.
    ['410 carrying new_contract', 410, { success: false, error: 'no_such_ask', new_contract: 77 }, 'created'],
    ['500 carrying new_contract', 500, { new_contract: 78 }, 'created'],
    [
      '410 no_such_ask',
      410,
      { success: false, error: 'no_such_ask', msg: 'error 410/3907: no_such_ask …' },
      'offer-gone',
    ],
    [
      '404 invalid_args 3603',
      404,
      {
        success: false,
        error: 'invalid_args',
        msg: 'error 404/3603: no_such_ask Instance type by id 1 is not available.',
      },
      'offer-gone',
    ],
    ['400 msg no_such_ask', 400, { success: false, msg: 'no_such_ask' }, 'offer-gone'],
    ['400 error no_such_ask', 400, { error: 'no_such_ask' }, 'offer-gone'],
    ['500 without id', 500, { success: false, error: 'server_error' }, 'unknown-outcome'],
    ['502 html', 502, '<html>502 Bad Gateway</html>', 'unknown-outcome'],
    ['200 unreadable', 200, '<html>ok</html>', 'unknown-outcome'],
    ['401 auth_error', 401, { success: false, error: 'auth_error', msg: 'Invalid user key' }, 'auth'],
    ['403 not your own', 403, { success: false, msg: 'error 403/3586: Offer 1 is not your own' }, 'auth'],
    [
      '400 insufficient_credit',
      400,
      { success: false, error: 'insufficient_credit', msg: 'no credit' },
      'balance',
    ],
    ['400 invalid_price', 400, { success: false, error: 'invalid_price', msg: 'bad price' }, 'invalid-input'],
    [
      '400 no_ssh_key_for_vm',
      400,
      { success: false, error: 'no_ssh_key_for_vm', msg: 'add a key' },
      'invalid-input',
    ],
  ])('%s → %s', async (_name, status, body, expected) => {
    expect(await outcome(status, body)).toBe(expected);
  });
});

describe('Vast status_msg classification', () => {
  it.each([
    ['Error response from daemon: manifest for vastai/test:x not found', 'image'],
    ['Error response from daemon: pull access denied for acme/private', 'image'],
    ['Error: container failed to start: OCI runtime create failed', 'host'],
    ['error: nvidia-container-cli: initialization error', 'host'],
    ['failed: exec /entrypoint.sh: permission denied', 'host'],
    ['docker_build() error writing dockerfile', 'host'],
    ['Traceback (most recent call last): …', 'unknown'],
    ['Pulling image ghcr.io/acme/job:1.2', undefined],
    ['success, running ghcr.io/acme/job:1.2/args', undefined],
    [null, undefined],
  ])('%s → %s', (message, expected) => {
    expect(faultOfStatusMessage(message)).toBe(expected);
  });

  // vast audit #16: Vast's messages embed the image; its name says nothing about a failure.
  it.each([
    ['success, running org/failed-jobs/args', undefined],
    ['Pulling image org/failed-jobs', undefined],
    ['Error response from daemon: manifest for org/failed-jobs not found', 'image'],
    ['Error: container failed to start: OCI runtime create failed', 'host'],
  ])('image org/failed-jobs: %s → %s', (message, expected) => {
    expect(faultOfStatusMessage(message, 'org/failed-jobs')).toBe(expected);
  });
});

function anInstance(fields: Partial<VastInstance>): VastInstance {
  return { id: 1, intended_status: 'running', ...fields } as VastInstance;
}

describe('Vast instance status mapping', () => {
  it.each<[string, VastInstance | null, InstanceState['phase'], string?]>([
    ['instances: null', null, 'gone'],
    ['actual destroyed', anInstance({ actual_status: 'destroyed' }), 'gone'],
    // vast-cli instance_exist: intended_status or actual_status in destroyed/terminated/offline (vast audit #11)
    [
      'intended destroyed while actual still running',
      anInstance({ actual_status: 'running', intended_status: 'destroyed' }),
      'gone',
    ],
    ['actual null', anInstance({ actual_status: null }), 'pending'],
    ['created', anInstance({ actual_status: 'created' }), 'starting'],
    ['loading', anInstance({ actual_status: 'loading', status_msg: 'Pulling image x' }), 'starting'],
    ['running', anInstance({ actual_status: 'running' }), 'running'],
    // vast-cli SKILL.md "exited: Container process exited unexpectedly" — also a normal end in args runtype (vast audit #7)
    ['exited', anInstance({ actual_status: 'exited' }), 'exited'],
    [
      'exited after "success, running …"',
      anInstance({
        actual_status: 'exited',
        status_msg: 'success, running org/failed-jobs/args',
        image_uuid: 'org/failed-jobs',
      }),
      'exited',
    ],
    [
      'exited with a pull error (the image never ran)',
      anInstance({ actual_status: 'exited', status_msg: 'Error response from daemon: pull access denied' }),
      'failed',
      'image',
    ],
    // vast audit #16: the success message embeds the image, whatever it is called
    [
      'running an image named org/failed-jobs',
      anInstance({
        actual_status: 'running',
        status_msg: 'success, running org/failed-jobs/args',
        image_uuid: 'org/failed-jobs',
      }),
      'running',
    ],
    [
      'pulling an image named org/failed-jobs',
      anInstance({
        actual_status: 'loading',
        status_msg: 'Pulling image org/failed-jobs',
        image_uuid: 'org/failed-jobs',
      }),
      'starting',
    ],
    ['unknown', anInstance({ actual_status: 'unknown' }), 'failed', 'host'],
    ['offline', anInstance({ actual_status: 'offline' }), 'failed', 'host'],
    [
      'OCI error while created',
      anInstance({ actual_status: 'created', status_msg: 'OCI runtime create failed' }),
      'failed',
      'host',
    ],
    [
      'pull error while created',
      anInstance({ actual_status: 'created', status_msg: 'Error: manifest unknown' }),
      'failed',
      'image',
    ],
    [
      'intended flips to stopped',
      anInstance({ actual_status: 'loading', intended_status: 'stopped' }),
      'failed',
      'host',
    ],
    [
      'stopped after running',
      anInstance({ actual_status: 'stopped', intended_status: 'stopped' }),
      'failed',
      'host',
    ],
  ])('%s', (_name, raw, phase, fault) => {
    const state = toInstanceState(raw);
    expect(state.phase).toBe(phase);
    if (fault) expect(state).toMatchObject({ fault });
  });
});
