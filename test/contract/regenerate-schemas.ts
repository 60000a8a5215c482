/**
 * Regenerates test/contract/schemas/*.json from the providers' OpenAPI documents kept in
 * ../shared/reference/openapi/. Run by hand (`node test/contract/regenerate-schemas.ts`) when
 * the reference specs change; it is the ONLY file of the product that reads ../shared, and
 * nothing imports it. The output keeps just the operations anex calls, with descriptions,
 * examples and vendor extensions stripped and every non-schema $ref inlined.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));
const reference = join(here, '../../../shared/reference/openapi');

type Json = Record<string, unknown>;

const USED: Record<string, { file: string; operations: [string, string][] }> = {
  vastai: {
    file: 'vastai.openapi.yaml',
    operations: [
      ['post', '/api/v0/bundles'],
      ['put', '/api/v0/asks/{id}'],
      ['get', '/api/v0/instances/{id}'],
      ['delete', '/api/v0/instances/{id}'],
      ['get', '/api/v1/instances'],
    ],
  },
  'runpod-v2': {
    file: 'runpod-rest-v2.openapi.json',
    operations: [
      ['get', '/v2/catalog/gpus'],
      ['get', '/v2/catalog/datacenters'],
      ['post', '/v2/pods'],
      ['get', '/v2/pods'],
      ['get', '/v2/pods/{id}'],
      ['delete', '/v2/pods/{id}'],
      ['get', '/v2/registries'],
      ['post', '/v2/registries'],
      ['get', '/v2/registries/{id}'],
      ['delete', '/v2/registries/{id}'],
    ],
  },
};

const DROP = new Set(['description', 'example', 'examples', 'summary', 'tags', 'title', 'externalDocs']);

/** Drops documentation keys, but never a field that is NAMED like one (`properties.title`). */
function strip(value: unknown, isPropertyMap = false): unknown {
  if (Array.isArray(value)) return value.map((v) => strip(v));
  if (value === null || typeof value !== 'object') return value;
  const out: Json = {};
  for (const [key, inner] of Object.entries(value)) {
    if (!isPropertyMap && (DROP.has(key) || key.startsWith('x-'))) continue;
    out[key] = strip(inner, !isPropertyMap && (key === 'properties' || key === 'headers'));
  }
  return out;
}

function lookup(doc: Json, ref: string): unknown {
  return ref
    .slice(2)
    .split('/')
    .reduce<unknown>((node, part) => (node as Json | undefined)?.[part], doc);
}

/** Inlines refs to responses, parameters and headers; keeps schema refs and records them. */
function inline(doc: Json, value: unknown, used: Set<string>): unknown {
  if (Array.isArray(value)) return value.map((v) => inline(doc, v, used));
  if (value === null || typeof value !== 'object') return value;
  const ref = (value as Json).$ref;
  if (typeof ref === 'string') {
    if (ref.startsWith('#/components/schemas/')) {
      collect(doc, ref, used);
      return { $ref: ref };
    }
    return inline(doc, lookup(doc, ref), used);
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, inline(doc, v, used)]));
}

function collect(doc: Json, ref: string, used: Set<string>): void {
  if (used.has(ref)) return;
  used.add(ref);
  inline(doc, lookup(doc, ref), used);
}

function extract(name: string): Json {
  const { file, operations } = USED[name] as (typeof USED)[string];
  const text = readFileSync(join(reference, file), 'utf8');
  const doc = (file.endsWith('.json') ? JSON.parse(text) : parse(text)) as Json;
  const paths = doc.paths as Record<string, Json>;
  const used = new Set<string>();
  const out: Record<string, unknown> = {};
  for (const [method, path] of operations) {
    const item = paths[path] as Json;
    const op = item[method] as Json;
    const parameters = [...((item.parameters as unknown[]) ?? []), ...((op.parameters as unknown[]) ?? [])];
    out[`${method.toUpperCase()} ${path}`] = strip(
      inline(
        doc,
        { operationId: op.operationId, parameters, requestBody: op.requestBody, responses: op.responses },
        used,
      ),
    );
  }
  const schemas: Json = {};
  for (const ref of [...used].sort()) schemas[ref.split('/').pop() as string] = strip(lookup(doc, ref));
  return { source: `${file} (openapi ${String(doc.openapi)})`, operations: out, components: { schemas } };
}

for (const name of Object.keys(USED)) {
  const target = join(here, 'schemas', `${name}.json`);
  writeFileSync(target, `${JSON.stringify(extract(name), null, 1)}\n`);
  process.stdout.write(`wrote ${target}\n`);
}
