import { type Command, InvalidArgumentError, Option } from 'commander';
import { parseRequirements } from '../../annotations/parse.ts';
import { requirementsInputFromPod } from '../../annotations/pod-input.ts';
import { InvalidInputError } from '../../errors.ts';
import { explain } from '../../filter/explain.ts';
import { select } from '../../filter/select.ts';
import { PROVIDERS, type ProviderName } from '../../offers/offer.ts';
import type { Ban } from '../../state/store.ts';
import { fetchLiveOffers } from '../live-offers.ts';
import { parseNow, readBans, readDocument, readSavedOffers } from '../offer-files.ts';
import { renderJson, renderTable } from '../offers-output.ts';

interface OffersOptions {
  pod: string;
  provider?: ProviderName;
  offers: string[];
  bans?: string;
  now?: string;
  limit: number;
  output: 'table' | 'json';
}

function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not a whole number of at least 1 (e.g. 20)`);
  }
  return Number(value);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function loadRequirements(options: OffersOptions) {
  const pod = await readDocument(options.pod, 'pod file');
  const input = requirementsInputFromPod(pod);
  if (!input.ok)
    throw new InvalidInputError([`pod file ${options.pod}:`, ...input.errors.map((e) => `  ${e}`)]);
  const result = parseRequirements({ ...input.input, providerOverride: options.provider });
  if (!result.ok) {
    for (const warning of result.warnings) process.stderr.write(`anex: warning: ${warning}\n`);
    throw new InvalidInputError([
      `pod file ${options.pod}: invalid annotations:`,
      ...result.errors.map((e) => `  ${e}`),
    ]);
  }
  for (const warning of result.requirements.warnings) process.stderr.write(`anex: warning: ${warning}\n`);
  return result.requirements;
}

async function runOffers(options: OffersOptions): Promise<void> {
  const requirements = await loadRequirements(options);
  const now = options.now === undefined ? Date.now() : parseNow(options.now);
  const bans: Ban[] = options.bans === undefined ? [] : await readBans(options.bans);
  const offers =
    options.offers.length > 0
      ? await readSavedOffers(options.offers, requirements.provider)
      : await fetchLiveOffers(requirements.provider, requirements, bans);
  const candidates = select(requirements, offers, bans, now);
  const explanation = explain(requirements, offers, bans, now);
  const report = { requirements, candidates, explanation, limit: options.limit };
  process.stdout.write(options.output === 'json' ? renderJson(report) : renderTable(report));
}

/** `anex offers`: a dry run of the filter engine on live offers or saved provider responses. */
export function registerOffers(program: Command): void {
  program
    .command('offers')
    .description(
      "Show which offers a pod's anex.sh/* annotations select, cheapest first, and why others are out",
    )
    .requiredOption('--pod <file>', 'pod manifest (YAML or JSON) carrying the annotations')
    .addOption(
      new Option(
        '--provider <name>',
        "provider to search (default: the pod's nodeSelector node-provider)",
      ).choices(PROVIDERS),
    )
    .option(
      '--offers <file>',
      'saved provider response instead of a live search (repeatable): Vast.AI POST /api/v0/bundles/ body, ' +
        'RunPod GET /v2/catalog/gpus and /v2/catalog/datacenters bodies',
      collect,
      [],
    )
    .option(
      '--bans <file>',
      'JSON array of bans: [{"provider":"vastai","machineId":"30511","expiresAt":"<RFC3339>"}]',
    )
    .option('--now <time>', 'evaluate bans at this RFC 3339 time (default: now)')
    .option('--limit <n>', 'show at most n candidates', positiveInteger, 20)
    .addOption(new Option('--output <format>', 'output format').choices(['table', 'json']).default('table'))
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  anex offers --pod pod.yaml --offers vast-search.json\n' +
        '  anex offers --pod pod.yaml --provider runpod --offers gpus.json --offers datacenters.json --output json\n' +
        '\nExit codes: 0 ok (also when nothing matches), 1 failure, 2 invalid annotations, flags or files.',
    )
    .action(async (options: OffersOptions) => {
      await runOffers(options);
    });
}
