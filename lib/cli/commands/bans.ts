import { type Command, InvalidArgumentError, Option } from 'commander';
import { openLocalStore } from '../../local/local-store.ts';
import { PROVIDERS, type ProviderName } from '../../offers/offer.ts';
import { addStoreOptions, type StoreCliOptions, storeOptions } from '../support/store-options.ts';

interface ListOptions extends StoreCliOptions {
  provider?: ProviderName;
  output: 'table' | 'json';
}

interface AddOptions extends StoreCliOptions {
  for: number;
  reason: string;
}

const EXIT_HELP = '\nExit codes: 0 ok, 1 failure (store unreachable), 2 invalid input.';

const DURATION = /^(\d+)(m|h|d)$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "30m", "6h", "2d" → milliseconds. */
export function parseDuration(value: string): number {
  const match = DURATION.exec(value);
  if (match === null || Number(match[1]) === 0) {
    throw new InvalidArgumentError(
      `${JSON.stringify(value)} is not a duration (a whole number with m, h or d, e.g. 6h)`,
    );
  }
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

function provider(value: string): ProviderName {
  const found = PROVIDERS.find((p) => p === value);
  if (found === undefined) {
    throw new InvalidArgumentError(
      `${JSON.stringify(value)} is not a provider (one of: ${PROVIDERS.join(', ')})`,
    );
  }
  return found;
}

function machineId(value: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(value)) {
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not a machine id (e.g. 30511)`);
  }
  return value;
}

async function withStore<T>(
  options: StoreCliOptions,
  work: (s: Awaited<ReturnType<typeof openLocalStore>>) => Promise<T>,
) {
  const state = await openLocalStore(storeOptions(options));
  try {
    return await work(state);
  } finally {
    await state.close();
  }
}

async function list(options: ListOptions): Promise<void> {
  await withStore(options, async ({ store }) => {
    const now = Date.now();
    const providers = options.provider === undefined ? PROVIDERS : [options.provider];
    const bans = (await Promise.all(providers.map((p) => store.listBans(p, now)))).flat();
    if (options.output === 'json') {
      process.stdout.write(`${JSON.stringify(bans, null, 2)}\n`);
      return;
    }
    if (bans.length === 0) {
      process.stdout.write('no bans in force\n');
      return;
    }
    process.stdout.write('PROVIDER  MACHINE     EXPIRES                   REASON\n');
    for (const b of bans) {
      process.stdout.write(
        `${b.provider.padEnd(9)} ${b.machineId.padEnd(11)} ${new Date(b.expiresAt).toISOString().padEnd(25)} ${b.reason}\n`,
      );
    }
  });
}

async function add(p: ProviderName, machine: string, options: AddOptions): Promise<void> {
  await withStore(options, async ({ store }) => {
    const now = Date.now();
    await store.putBan({
      provider: p,
      machineId: machine,
      expiresAt: now + options.for,
      reason: options.reason,
      createdAt: now,
    });
    process.stdout.write(
      `banned ${p} machine ${machine} until ${new Date(now + options.for).toISOString()}\n`,
    );
  });
}

async function clear(p: ProviderName, machine: string, options: StoreCliOptions): Promise<void> {
  await withStore(options, async ({ store }) => {
    const removed = await store.deleteBan(p, machine);
    process.stdout.write(
      removed ? `cleared the ban on ${p} machine ${machine}\n` : `${p} machine ${machine} was not banned\n`,
    );
  });
}

/** `anex bans list|add|clear`: the machines skipped after failing to start (DESIGN §3). */
export function registerBans(program: Command): void {
  const bans = program
    .command('bans')
    .description('List, add or clear machine bans (machines skipped after they failed to start)')
    .addHelpText('after', EXIT_HELP);
  addStoreOptions(
    bans
      .command('list')
      .description('List the bans in force')
      .addOption(new Option('--provider <name>', 'only this provider').choices(PROVIDERS))
      .addOption(
        new Option('--output <format>', 'output format').choices(['table', 'json']).default('table'),
      ),
  )
    .addHelpText('after', EXIT_HELP)
    .action(list);
  addStoreOptions(
    bans
      .command('add')
      .description('Ban a machine by hand')
      .argument('<provider>', `one of: ${PROVIDERS.join(', ')}`, provider)
      .argument('<machine-id>', 'the provider machine id (Vast.AI machine_id)', machineId)
      .option('--for <duration>', 'how long, e.g. 30m, 6h, 2d', parseDuration, 6 * 3_600_000)
      .option('--reason <text>', 'why (shown by bans list and anex explain)', 'banned by hand'),
  )
    .addHelpText(
      'after',
      `\nExample:\n  anex bans add vastai 30511 --for 2d --reason "GPU falls off the bus"${EXIT_HELP}`,
    )
    .action(add);
  addStoreOptions(
    bans
      .command('clear')
      .description('Lift a ban')
      .argument('<provider>', `one of: ${PROVIDERS.join(', ')}`, provider)
      .argument('<machine-id>', 'the banned machine id', machineId),
  )
    .addHelpText('after', EXIT_HELP)
    .action(clear);
}
