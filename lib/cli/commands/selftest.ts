import { createInterface } from 'node:readline/promises';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { requireProviderAccess } from '../../config/providers.ts';
import { PROVIDER_ENV } from '../../config/secrets.ts';
import { InvalidInputError } from '../../errors.ts';
import { loadKubeConfig } from '../../local/local-mode.ts';
import { PROVIDERS, type ProviderName } from '../../offers/offer.ts';
import { createProvider } from '../../providers/index.ts';
import { agentModeProblems, checkAgentUrl, checkNamespace } from '../../selftest/agent-input.ts';
import { kubePods } from '../../selftest/agent-kube.ts';
import { runAgentSelftest } from '../../selftest/agent-run.ts';
import { HttpLog } from '../../selftest/http-log.ts';
import {
  renderJson,
  renderPlan,
  renderStackPlan,
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
  /** the agent mode (ADR 0018): a deployed stack rents a pod through its agent endpoint */
  agentUrl?: string;
  namespace?: string;
  kubeconfig?: string;
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

/** commander's form of a flag check: its message, as commander prints invalid arguments. */
function flag<T>(check: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return check(value);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  };
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
async function askToConfirm(worstCaseUsd: number, stop: AbortController): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  prompt.on('SIGINT', () => stop.abort());
  try {
    const answer = await prompt.question(`Rent it for at most $${worstCaseUsd.toFixed(4)}? [y/N] `, {
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
  const problems = agentModeProblems(options);
  if (problems.length > 0) throw new InvalidInputError(problems);
  if (options.yes !== true && !process.stdin.isTTY) {
    throw new InvalidInputError([
      'anex selftest rents a machine: confirm with --yes when stdin is not a terminal (scripts, schedules)',
    ]);
  }
  // Read before the key: a wrong kubeconfig is invalid input, found before anything else.
  const kubeConfig = options.agentUrl === undefined ? undefined : loadKubeConfig(options.kubeconfig);
  const access = await apiAccess(options);
  const http = new HttpLog([access.apiKey]);
  const provider = createProvider(options.provider, {
    ...access,
    // The agent mode finds the stack's instance by the pod's UID under the stack's cluster id,
    // which it learns from the tag: its adapter lists every anex tag (the marker mode's only its own).
    ...(kubeConfig === undefined ? { clusterId: SELFTEST_CLUSTER_ID } : {}),
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
  const common = {
    providerName: options.provider,
    provider,
    http,
    budgetUsd: options.budget,
    maxDurationMs: Math.round(options.maxMinutes * 60_000),
    pollMs: Math.round(options.pollSeconds * 1000),
    keepLogs: options.keepLogs === true,
    signal: stop.signal,
  };
  const confirm = (worstCaseUsd: number) =>
    options.yes === true ? Promise.resolve(true) : askToConfirm(worstCaseUsd, stop);
  let report: SelftestReport;
  try {
    report =
      kubeConfig === undefined
        ? await runSelftest({
            ...common,
            onPlan: (plan) => progress(renderPlan(plan, options.provider, options.budget)),
            onStep: (step) => progress(renderStep(step)),
            confirm: (plan) => confirm(plan.worstCaseUsd),
          })
        : await runAgentSelftest({
            ...common,
            pods: kubePods(kubeConfig),
            namespace: options.namespace as string,
            agentUrl: options.agentUrl as string,
            onPlan: (stack) => progress(renderStackPlan(stack, options.provider, options.budget)),
            onStep: (step) => progress(renderStep(step, 'agent')),
            confirm: (stack) => confirm(stack.worstCaseUsd),
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
    .option(
      '--agent-url <url>',
      "a deployed stack's agent endpoint (stack output AgentUrl): the stack rents a selftest pod through the agent and tunnel path; https, or http on loopback",
      flag(checkAgentUrl),
    )
    .option(
      '--namespace <ns>',
      'with --agent-url: the namespace of the selftest pod (one the stack may rent in: ANEX_RENT_NAMESPACES)',
      flag(checkNamespace),
    )
    .option(
      '--kubeconfig <file>',
      "with --agent-url: the stack's cluster (default: $KUBECONFIG or ~/.kube/config)",
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
        '\nWith --agent-url <AgentUrl> --namespace <ns> it tests a deployed stack instead: after checking\n' +
        '  the endpoint answers, it creates one pod (busybox, the marker stub, anex.sh/price-max = budget ÷\n' +
        '  duration, activeDeadlineSeconds) that the stack rents through its webhook, reconciler, launch\n' +
        '  stub and Go agent; checks: rented (visible by tag), the agent reported started, the marker in\n' +
        '  the provider’s log, the billed price; then deletes the pod and checks the stack destroyed the\n' +
        '  machine (destroying it itself as the last resort, and failing). Needs the provider key too.\n' +
        `\nKeys: ${PROVIDER_ENV.vastai.apiKey} / ${PROVIDER_ENV.runpod.apiKey} (or --from-stack); ` +
        `${PROVIDER_ENV.vastai.url} / ${PROVIDER_ENV.runpod.url} point it at \`anex sim\`.\n` +
        '\nExamples:\n' +
        '  anex selftest --provider vastai\n' +
        '  anex selftest --provider runpod --budget 0.25 --yes --output json > selftest.json\n' +
        '  anex selftest --provider vastai --agent-url "$AGENT_URL" --namespace ml --from-stack "$SECRET_ARN"\n' +
        '\nExit codes: 0 every step passed, 1 a step failed or the budget refused the run, 2 invalid\n' +
        'input, 130 interrupted (what was rented is destroyed first).',
    )
    .action(async (options: SelftestCliOptions) => {
      process.exitCode = await runCommand(options);
    });
}
