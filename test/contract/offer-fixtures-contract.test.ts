import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type Exchange, loadSpec, OpenApiValidator } from './support/openapi-validator.ts';

/**
 * The saved provider responses `anex offers` and the filter tests read
 * (test/fixtures/providers) are bodies the real APIs could send: each is checked against the
 * provider's OpenAPI extract as the response of the request that would have produced it.
 */
const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/providers/${name}`, import.meta.url), 'utf8');

function exchange(method: string, url: string, text: string, requestBody?: unknown): Exchange {
  return {
    method,
    url: new URL(url),
    requestBody,
    status: 200,
    headers: new Headers({ 'content-type': 'application/json' }),
    text,
  };
}

describe('saved provider responses (test/fixtures/providers)', () => {
  it.each([
    ['runpod-gpus.json', 'https://api.runpod.io/v2/catalog/gpus?include=AVAILABILITY&product=POD'],
    ['runpod-datacenters.json', 'https://api.runpod.io/v2/catalog/datacenters'],
  ])('%s conforms to the RunPod REST v2 spec', (name, url) => {
    const validator = new OpenApiValidator(loadSpec('runpod-v2'), 'runpod-v2');
    expect(validator.validate(exchange('GET', url, fixture(name)))).toEqual([]);
  });

  // Vast's spec types only the envelope (offers: array of objects); the rows' fields are checked
  // by the normalizer's schema in test/unit/offers/normalize-vastai.test.ts.
  it('vastai-bundles.json conforms to the Vast.AI search spec', () => {
    const validator = new OpenApiValidator(loadSpec('vastai'), 'vastai');
    const body = {
      rentable: { eq: true },
      rented: { eq: false },
      gpu_name: { in: ['RTX 4090', 'RTX 3090'] },
      limit: 64,
    };
    expect(
      validator.validate(
        exchange('POST', 'https://console.vast.ai/api/v0/bundles/', fixture('vastai-bundles.json'), body),
      ),
    ).toEqual([]);
  });
});
