import { INVALID_JSON, type SimRequest, type SimResponse } from '../common/http-server.ts';
import type { SimRoute } from '../common/sim-core.ts';
import { problem, type RunPodState } from './routes.ts';

/**
 * RunPod's registry credentials, `/v2/registries` (runpod-rest-v2.openapi.json: createRegistry
 * `CreateRegistryRequest` {name, username, password}, all required, minLength 1,
 * additionalProperties false; `Registry` {id, name}; the login is write-only, never answered;
 * delete "Rejected if any pod currently uses this credential to pull its image"). A pod's
 * `registry` (ContainerConfig: "Container registry credential ID (for private images)") names
 * one; a private image pulls only with its own login.
 *
 * A second credential with a taken name is refused (400: REST v1 OpenAPI
 * `ContainerRegistryAuthCreateInput.name` "The name must be unique"; v2 lists 400 BadRequest for
 * createRegistry). A pod create naming an unknown credential id is refused (404, routes.ts).
 */
export interface SimRegistryCredential {
  id: string;
  name: string;
  username: string;
  password: string;
}

const CREATE_KEYS = ['name', 'username', 'password'] as const;

export function registryRoutes(state: RunPodState): SimRoute[] {
  return [
    {
      name: 'registries',
      method: 'GET',
      pattern: /^\/v2\/registries$/,
      auth: true,
      run: () => ({
        status: 200,
        body: { registries: [...state.registries.values()].map(({ id, name }) => ({ id, name })) },
      }),
    },
    {
      name: 'registries',
      method: 'POST',
      pattern: /^\/v2\/registries$/,
      auth: true,
      run: (r) => createRegistry(state, r),
    },
    {
      name: 'registries',
      method: 'GET',
      pattern: /^\/v2\/registries\/([^/]+)$/,
      auth: true,
      run: (_r, p) => {
        const found = state.registries.get(p[0] ?? '');
        return found === undefined
          ? problem(404, 'registry not found')
          : { status: 200, body: { id: found.id, name: found.name } };
      },
    },
    {
      name: 'registries',
      method: 'DELETE',
      pattern: /^\/v2\/registries\/([^/]+)$/,
      auth: true,
      run: (_r, p) => deleteRegistry(state, p[0] ?? ''),
    },
  ];
}

function createRegistry(state: RunPodState, request: SimRequest): SimResponse {
  const body = request.body;
  if (body === INVALID_JSON) return problem(400, 'request body is not valid JSON');
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    return problem(422, 'Request validation failed.', ['$: expected object']);
  const b = body as Record<string, unknown>;
  const errors = [
    ...Object.keys(b)
      .filter((key) => !(CREATE_KEYS as readonly string[]).includes(key))
      .map((key) => `$: additional properties '${key}' not allowed`),
    ...CREATE_KEYS.filter((key) => typeof b[key] !== 'string' || (b[key] as string).length === 0).map(
      (key) => `$.${key}: required non-empty string`,
    ),
  ];
  if (errors.length > 0) return problem(422, 'Request validation failed.', errors);
  const name = b.name as string;
  if ([...state.registries.values()].some((r) => r.name === name))
    return problem(400, `a registry credential named "${name}" already exists`);
  const id = Array.from(
    { length: 8 },
    () => 'abcdefghijklmnopqrstuvwxyz0123456789'[state.rng.int(0, 35)],
  ).join('');
  state.registries.set(id, { id, name, username: b.username as string, password: b.password as string });
  return { status: 201, body: { id, name } };
}

function deleteRegistry(state: RunPodState, id: string): SimResponse {
  if (!state.registries.has(id)) return problem(404, 'registry not found');
  const used = [...state.pods.values()].some((pod) => !pod.terminated && pod.registry === id);
  if (used) return problem(400, 'registry credential is in use by a pod and cannot be deleted');
  state.registries.delete(id);
  return { status: 204 };
}
