import { createInterface } from 'node:readline/promises';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { requireProviderAccess } from '../../config/providers.ts';
import { PROVIDER_ENV } from '../../config/secrets.ts';
import { InvalidInputError } from '../../errors.ts';
import { PROVIDERS, type ProviderName } from '../../offers/offer.ts';
import { createProvider } from '../../providers/index.ts';
import { HttpLog } from '../../selftest/http-log.ts';
import {
  type PlannedRental,
  renderJson,
  renderPlan,
  renderStep,
  renderSummary,
  type SelftestReport,
} from '../../selftest/report.ts';
import { runSelftest } from '../../selftest/run.ts';
import { apiKeyFromStack, checkSecretId } from '../../selftest/stack-key.ts';
import { SELFTEST_CLUSTER_ID } from '../../selftest/tag.ts';
import { EXIT } from '../main.ts';
import { onStopSignals } from '../support/signals.ts';

interface SelftestCliOptions {
  provider: ProviderName;
  budget: number;
  maxMinutes: number;
  yes?: boolean;
  keepLogs?: boolean;
  output: 'table' | 'json';
  fromStack?: string;
  /** seconds between polls; hidden (tests against the simulators) */
  pollSeconds: number;
}

function usd(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0 || Number(value) > 100) {
    throw new InvalidArgumentError(
      `${JSON.stringify(value)} is not a budget in USD from 0.01 to 100 (e.g. 0.50)`,
    );
  }
  return Number(value);
}

function minutes(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0 || Number(value) > 240) {
    throw new InvalidArgumentError(
      `${JSON.stringify(value)} is not a number of minutes from 0.1 to 240 (e.g. 20)`,
    );
  }
  return Number(value);
}

function pollSeconds(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) < 0.05 || Number(value) > 60) {
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not a number of seconds from 0.05 to 60`);
  }
  return Number(value);
}

async function apiAccess(options: SelftestCliOptions): Promise<{ apiKey: string; baseUrl?: string }> {
  const env = process.env;
  if (options.fromStack !== undefined) {
    const apiKey = await apiKeyFromStack(checkSecretId(options.fromStack), options.provider);
    const baseUrl = env[PROVIDER_ENV[options.provider].url]?.trim();
    return { apiKey, ...(baseUrl ? { baseUrl } : {}) };
  }
  const access = requireProviderAccess(
    options.provider,
    env,
    `anex selftest rents with your ${options.provider} account, or pass --from-stack <secret ARN>`,
  );
  return {
    apiKey: access.apiKey.reveal(),
    ...(access.baseUrl === undefined ? {} : { baseUrl: access.baseUrl }),
  };
}

/** Asks on the terminal; Ctrl-C at the prompt (which readline takes as a key) is a stop, not a yes. */
async function askToConfirm(plan: PlannedRental, stop: AbortController): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  prompt.on('SIGINT', () => stop.abort());
  try {
    const answer = await prompt.question(`Rent it for at most $${plan.worstCaseUsd.toFixed(4)}? [y/N] `, {
      signal: stop.signal,
    });
    return /^y(es)?$/i.test(answer.trim());
  } catch (error) {
    if (stop.signal.aborted) return false;
    throw error;
  } finally {
    prompt.close();
  }
}

async function runCommand(options: SelftestCliOptions): Promise<number> {
  if (options.yes !== true && !process.stdin.isTTY) {
    throw new InvalidInputError([
      'anex selftest rents a machine: confirm with --yes when stdin is not a terminal (scripts, schedules)',
    ]);
  }
  const access = await apiAccess(options);
  const http = new HttpLog([access.apiKey]);
  const provider = createProvider(options.provider, {
    ...access,
    clusterId: SELFTEST_CLUSTER_ID,
    fetch: http.fetch,
  });
  const json = options.output === 'json';
  const progress = (text: string) => (json ? process.stderr : process.stdout).write(text);
  const stop = new AbortController();
  const dispose = onStopSignals({
    graceful: (signal) => {
      process.stderr.write(`anex: ${signal}: stopping; whatever was rented is destroyed first\n`);
      stop.abort();
    },
    hurry: () =>
      process.stderr.write('anex: still destroying the selftest instance; anex exits once it is gone\n'),
  });
  let report: SelftestReport;
  try {
    report = await runSelftest({
      providerName: options.provider,
      provider,
      http,
      budgetUsd: options.budget,
      maxDurationMs: Math.round(options.maxMinutes * 60_000),
      pollMs: Math.round(options.pollSeconds * 1000),
      keepLogs: options.keepLogs === true,
      signal: stop.signal,
      onPlan: (plan) => progress(renderPlan(plan, options.provider, options.budget)),
      onStep: (step) => progress(renderStep(step)),
      confirm: (plan) => (options.yes === true ? Promise.resolve(true) : askToConfirm(plan, stop)),
    });
  } finally {
    dispose();
  }
  process.stdout.write(json ? renderJson(report) : renderSummary(report));
  if (report.result === 'pass') return EXIT.ok;
  return report.result === 'interrupted' ? EXIT.interrupted : EXIT.failure;
}

/** `anex selftest`: a live check of launch and lifecycle against the real marketplace (ADR 0018). */
export function registerSelftest(program: Command): void {
  program
    .command('selftest')
    .description(
      'Rent one cheap GPU machine for a few minutes with anex’s own code paths, check every lifecycle step, destroy it',
    )
    .addOption(
      new Option('--provider <name>', 'marketplace to test').choices(PROVIDERS).makeOptionMandatory(),
    )
    .option(
      '--budget <usd>',
      'the most the run may spend, USD (it refuses to start if the worst case is more)',
      usd,
      0.5,
    )
    .option(
      '--max-minutes <n>',
      'the longest the machine is kept, every wait and the destroy included (the worst case is price × this)',
      minutes,
      20,
    )
    .option('--yes', 'rent without asking (needed when stdin is not a terminal)')
    .option('--keep-logs', "put the provider's log lines of the machine in the report")
    .addOption(new Option('--output <format>', 'output format').choices(['table', 'json']).default('table'))
    .option(
      '--from-stack <secret>',
      "read the API key from the stack's reconciler secret (ARN or name; AWS credentials from the environment)",
    )
    .addOption(
      new Option('--poll-seconds <s>', 'seconds between status reads')
        .argParser(pollSeconds)
        .default(2)
        .hideHelp(),
    )
    .addHelpText(
      'after',
      '\nWhat it does, step by step (each prints ✔ or ✘, with the provider’s words on failure):\n' +
        '  destroys selftest instances an interrupted run left, picks the cheapest 1-GPU offer, prints\n' +
        '  price and worst case and asks to confirm; rents it with busybox and a stub that prints a\n' +
        '  marker; checks: create accepted, listed by its tag, running, marker in the provider’s log,\n' +
        '  billed price = offer; then destroy, gone, and no selftest instance left. Ctrl-C, a failure\n' +
        '  or the time limit still destroys what was rented. The report ends with what was spent.\n' +
        `\nKeys: ${PROVIDER_ENV.vastai.apiKey} / ${PROVIDER_ENV.runpod.apiKey} (or --from-stack); ` +
        `${PROVIDER_ENV.vastai.url} / ${PROVIDER_ENV.runpod.url} point it at \`anex sim\`.\n` +
        '\nExamples:\n' +
        '  anex selftest --provider vastai\n' +
        '  anex selftest --provider runpod --budget 0.25 --yes --output json > selftest.json\n' +
        '\nExit codes: 0 every step passed, 1 a step failed or the budget refused the run, 2 invalid\n' +
        'input, 130 interrupted (what was rented is destroyed first).',
    )
    .action(async (options: SelftestCliOptions) => {
      process.exitCode = await runCommand(options);
    });
}
