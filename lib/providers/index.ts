import { AnexError } from '../errors.ts';
import { PROVIDERS, type ProviderName } from '../offers/offer.ts';
import type { PaceStore } from '../state/store.ts';
import type { Provider } from './provider.ts';
import { RunPodProvider } from './runpod/provider.ts';
import { VastAiProvider } from './vastai/provider.ts';

export interface CreateProviderOptions {
  apiKey: string;
  /** Vendor API origin (e.g. a simulator's `http://127.0.0.1:N`); default: the real service. */
  baseUrl?: string | undefined;
  /** This installation's cluster id: `listTagged` then returns only its instances. */
  clusterId?: string | undefined;
  fetch?: typeof globalThis.fetch | undefined;
  /** Per-attempt timeout, ms. */
  timeoutMs?: number | undefined;
  /** Where rate-limit slots are shared between processes (ADR 0011): the state store. @default this process */
  paceLedger?: PaceStore | undefined;
}

/** The composition point for provider adapters (the reconciler and the CLI use it). */
export function createProvider(name: ProviderName, options: CreateProviderOptions): Provider {
  if (!options.apiKey) {
    throw new AnexError(`${name}: an API key is required`, { kind: 'auth' });
  }
  const common = {
    apiKey: options.apiKey,
    ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
    ...(options.clusterId ? { clusterId: options.clusterId } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  };
  switch (name) {
    case 'vastai':
      return new VastAiProvider({
        ...common,
        ...(options.paceLedger ? { paceLedger: options.paceLedger } : {}),
      });
    case 'runpod':
      return new RunPodProvider(common);
    default:
      throw new AnexError(`unknown provider "${String(name)}" (expected one of: ${PROVIDERS.join(', ')})`, {
        kind: 'invalid-input',
      });
  }
}
