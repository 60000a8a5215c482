import type { Region } from './offer.ts';

/**
 * ISO 3166-1 alpha-2 → anex region, from the UN M49 continent of each country (DESIGN §3):
 * - Americas split: Northern America + Central America + Caribbean → north-america;
 *   South America → south-america.
 * - Asia, including Western Asia (Türkiye, Cyprus, Israel, the Gulf, the Caucasus) →
 *   asia-pacific. Following M49 to the letter keeps the table checkable; a user who wants
 *   Cyprus or Türkiye with Europe lists both regions.
 * - Russia → europe (M49 Eastern Europe), whatever its Asian part.
 * - Antarctica (AQ) has no seed region: it matches no region filter.
 * Every one of the 249 assigned codes is listed; Taiwan (not in M49) sits with Eastern Asia
 * and Kosovo (XK, user-assigned but used by hosts) with Southern Europe.
 */
const BY_REGION: Readonly<Record<Region, string>> = {
  africa:
    // Northern Africa
    'DZ EG LY MA SD TN EH ' +
    // Eastern Africa
    'IO BI KM DJ ER ET TF KE MG MW MU YT MZ RE RW SC SO SS UG TZ ZM ZW ' +
    // Middle Africa
    'AO CM CF TD CG CD GQ GA ST ' +
    // Southern Africa
    'BW SZ LS NA ZA ' +
    // Western Africa
    'BJ BF CV CI GM GH GN GW LR ML MR NE NG SH SN SL TG',
  'north-america':
    // Northern America
    'BM CA GL PM US ' +
    // Central America
    'BZ CR SV GT HN MX NI PA ' +
    // Caribbean
    'AI AG AW BS BB BQ VG KY CU CW DM DO GD GP HT JM MQ MS PR BL KN LC MF VC SX TT TC VI',
  'south-america': 'AR BO BV BR CL CO EC FK GF GY PY PE GS SR UY VE',
  'asia-pacific':
    // Central Asia
    'KZ KG TJ TM UZ ' +
    // Eastern Asia
    'CN HK MO KP JP MN KR TW ' +
    // South-eastern Asia
    'BN KH ID LA MY MM PH SG TH TL VN ' +
    // Southern Asia
    'AF BD BT IN IR MV NP PK LK ' +
    // Western Asia
    'AM AZ BH CY GE IQ IL JO KW LB OM QA SA PS SY TR AE YE',
  europe:
    // Eastern Europe
    'BY BG CZ HU PL MD RO RU SK UA ' +
    // Northern Europe
    'AX DK EE FO FI GG IS IE IM JE LV LT NO SJ SE GB ' +
    // Southern Europe
    'AL AD BA HR GI GR VA IT MT ME MK PT SM RS SI ES XK ' +
    // Western Europe
    'AT BE FR DE LI LU MC NL CH',
  oceania:
    // Australia and New Zealand
    'AU NZ NF HM CC CX ' +
    // Melanesia
    'FJ NC PG SB VU ' +
    // Micronesia
    'GU KI MH FM NR MP PW UM ' +
    // Polynesia
    'AS CK PF NU PN WS TK TO TV WF',
};

/** Codes deliberately mapped to no region. */
const NO_REGION = ['AQ'] as const;

function buildTable(): ReadonlyMap<string, Region | undefined> {
  const table = new Map<string, Region | undefined>();
  for (const [region, codes] of Object.entries(BY_REGION) as [Region, string][]) {
    for (const code of codes.split(' ')) table.set(code, region);
  }
  for (const code of NO_REGION) table.set(code, undefined);
  return table;
}

/** Every code the table knows (exported for its completeness test). */
export const COUNTRY_REGIONS: ReadonlyMap<string, Region | undefined> = buildTable();

/** The region of an ISO 3166-1 alpha-2 code (any case); undefined when unknown or regionless. */
export function regionOfCountry(countryCode: string | undefined): Region | undefined {
  if (countryCode === undefined) return undefined;
  return COUNTRY_REGIONS.get(countryCode.toUpperCase());
}
