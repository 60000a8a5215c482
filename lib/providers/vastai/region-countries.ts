import type { Region } from '../../offers/offer.ts';

/**
 * ISO-3166 alpha-2 codes per anex region (UN M49 continents; Americas split as DESIGN §3;
 * Western Asia in asia-pacific; Russia in europe). Used only to push `geolocation in [...]`
 * to Vast's search; the local filter (lib/filter) stays the authority on regions.
 */
const TABLE: Record<Region, string> = {
  europe:
    'AD AL AT AX BA BE BG BY CH CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS IT JE LI LT LU LV MC MD ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM UA VA XK',
  'north-america':
    'US CA GL BM PM MX GT BZ SV HN NI CR PA AG AI AW BB BL BQ BS CU CW DM DO GD GP HT JM KN KY LC MF MQ MS PR SX TC TT VC VG VI',
  'south-america': 'AR BO BR CL CO EC FK GF GY PE PY SR UY VE',
  'asia-pacific':
    'AE AF AM AZ BD BH BN BT CN CY GE HK ID IL IN IQ IR JO JP KG KH KP KR KW KZ LA LB LK MM MN MO MV MY NP OM PH PK PS QA SA SG SY TH TJ TL TM TR TW UZ VN YE',
  oceania: 'AS AU CK FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TO TV VU WF',
  africa:
    'AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE KM LR LS LY MA MG ML MR MU MW MZ NA NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TG TN TZ UG YT ZA ZM ZW',
};

export function countriesOfRegions(regions: readonly Region[]): string[] {
  return regions.flatMap((region) => TABLE[region].split(' '));
}

export function regionOfCountry(code: string): Region | undefined {
  const upper = code.toUpperCase();
  return (Object.keys(TABLE) as Region[]).find((region) => TABLE[region].split(' ').includes(upper));
}
