import { describe, expect, it } from 'vitest';
import { RUNPOD_REGIONS } from '../../../lib/offers/normalize/runpod.ts';
import { REGIONS } from '../../../lib/offers/offer.ts';
import { COUNTRY_REGIONS, regionOfCountry } from '../../../lib/offers/regions.ts';

describe('regionOfCountry', () => {
  it.each([
    ['DE', 'europe'],
    ['SE', 'europe'],
    ['GB', 'europe'],
    ['RU', 'europe'],
    ['UA', 'europe'],
    ['IS', 'europe'],
    ['US', 'north-america'],
    ['CA', 'north-america'],
    ['MX', 'north-america'],
    ['PA', 'north-america'],
    ['JM', 'north-america'],
    ['PR', 'north-america'],
    ['BR', 'south-america'],
    ['AR', 'south-america'],
    ['CL', 'south-america'],
    ['JP', 'asia-pacific'],
    ['SG', 'asia-pacific'],
    ['IN', 'asia-pacific'],
    ['KZ', 'asia-pacific'],
    ['TR', 'asia-pacific'],
    ['CY', 'asia-pacific'],
    ['IL', 'asia-pacific'],
    ['AE', 'asia-pacific'],
    ['TW', 'asia-pacific'],
    ['ZA', 'africa'],
    ['EG', 'africa'],
    ['NG', 'africa'],
    ['KE', 'africa'],
    ['AU', 'oceania'],
    ['NZ', 'oceania'],
    ['FJ', 'oceania'],
    ['gu', 'oceania'],
  ])('%s → %s', (code, region) => {
    expect(regionOfCountry(code)).toBe(region);
  });

  it.each([['AQ'], ['ZZ'], ['USA'], ['']])('%j has no region', (code) => {
    expect(regionOfCountry(code)).toBeUndefined();
  });

  it('covers all 249 ISO 3166-1 alpha-2 codes (plus Kosovo), each a real region code', () => {
    const names = new Intl.DisplayNames(['en'], { type: 'region' });
    const codes = [...COUNTRY_REGIONS.keys()];
    expect(codes.filter((c) => c !== 'XK')).toHaveLength(249);
    expect(codes.filter((code) => names.of(code) === code)).toEqual([]);
    expect(new Set(COUNTRY_REGIONS.values())).toEqual(new Set([...REGIONS, undefined]));
  });
});

describe('RunPod data-center regions', () => {
  it.each([
    ['NORTH_AMERICA', 'north-america'],
    ['SOUTH_AMERICA', 'south-america'],
    ['EUROPE', 'europe'],
    ['ASIA', 'asia-pacific'],
    ['MIDDLE_EAST', 'asia-pacific'],
    ['AFRICA', 'africa'],
    ['OCEANIA', 'oceania'],
    ['ANTARCTICA', undefined],
    ['UNKNOWN', undefined],
  ])('%s → %s', (region, expected) => {
    expect(RUNPOD_REGIONS[region]).toBe(expected);
  });
});
