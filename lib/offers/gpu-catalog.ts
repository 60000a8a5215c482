import { acceptedGpuKeys, gpuKey } from './gpu-names.ts';
import type { ProviderName } from './offer.ts';

/**
 * The GPU names each provider lists, so `anex.sh/gpu-names` can be checked before any search:
 * a name no provider knows is an annotation error with a suggestion, never a search without
 * a GPU filter (vast audit #5: a name missing from the old table sent no `gpu_name` filter,
 * and the 1000 cheapest offers of any GPU came back).
 *
 * Vast: every `gpu_name` of vast-ai/vast-cli `vastai/data/query.py` ("GPU name constants (from
 * vast/controller/gpulist.json, column [1])", read at 68bc080, 2026-08), in its order; the
 * search filter takes them verbatim (`{"gpu_name": {"in": [...]}}`, providers.md §2.14).
 *
 * RunPod: the display names and GPU ids of runpod/docs `references/gpu-types.mdx` (table of
 * 2025-08), plus the names providers.md §3.13 records since (RTX PRO 6000 editions, H200 NVL,
 * B300, RTX PRO 4500). RunPod's catalog is read live and matched locally by {@link gpuKey},
 * so this list only decides whether a requested name is known.
 *
 * When a provider adds a model, add its name here: until then a pod asking for it is refused
 * with a message naming the closest known name.
 */
export const PROVIDER_GPU_NAMES: Readonly<Record<ProviderName, readonly string[]>> = {
  vastai: [
    // NVIDIA data centre / AI
    ...['A10', 'A10g', 'A16', 'A30', 'A40', 'A100 PCIE', 'A100 SXM4', 'A100 SXM', 'A100X', 'A800 PCIE'],
    ...['B200', 'GH200 SXM', 'H100 PCIE', 'H100 SXM', 'H100 NVL', 'H200', 'H200 NVL', 'L4', 'L40', 'L40S'],
    ...['Tesla K20c', 'Tesla K80', 'Tesla M40', 'Tesla P4', 'Tesla P6', 'Tesla P40', 'Tesla P100'],
    ...['Tesla T4', 'Tesla V100'],
    // NVIDIA consumer: GeForce / GTX
    ...['GeForce 970', 'GTX 750 Ti', 'GTX 1050', 'GTX 1050 Ti', 'GTX 1060', 'GTX 1070', 'GTX 1070 Ti'],
    ...['GTX 1080', 'GTX 1080 Ti', 'GTX 1650', 'GTX 1650 S', 'GTX 1650 Ti', 'GTX 1660', 'GTX 1660 S'],
    ...['GTX 1660 Ti', 'GTX TITAN X'],
    // RTX 20, 30, 40 and 50 series
    ...['RTX 2060', 'RTX 2060S', 'RTX 2070', 'RTX 2070S', 'RTX 2080', 'RTX 2080S', 'RTX 2080 Ti'],
    ...['RTX 3050', 'RTX 3060', 'RTX 3060 laptop', 'RTX 3060 Ti', 'RTX 3070', 'RTX 3070 laptop'],
    ...['RTX 3070 Ti', 'RTX 3080', 'RTX 3080 Ti', 'RTX 3090', 'RTX 3090 Ti'],
    ...['RTX 4060', 'RTX 4060 laptop', 'RTX 4060 Ti', 'RTX 4070', 'RTX 4070 laptop', 'RTX 4070S'],
    ...['RTX 4070S Ti', 'RTX 4070 Ti', 'RTX 4080', 'RTX 4080 laptop', 'RTX 4080S', 'RTX 4090'],
    ...['RTX 4090D', 'RTX 4090 Ti'],
    ...['RTX 5060', 'RTX 5060 Ti', 'RTX 5070', 'RTX 5070 Ti', 'RTX 5080', 'RTX 5090', 'RTX 5090 Ti'],
    // Titan
    ...['Titan RTX', 'Titan V', 'TITAN V CEO', 'Titan X', 'Titan Xp'],
    // Professional: Quadro, RTX A, RTX Ada, RTX PRO (Blackwell)
    ...['Quadro K620', 'Quadro K2200', 'Quadro P2000', 'Quadro P4000', 'Quadro P5000', 'Quadro P6000'],
    ...['Quadro GP100', 'Quadro GV100', 'Q RTX 4000', 'Q RTX 5000', 'Q RTX 6000', 'Q RTX 8000'],
    ...['RTX A2000', 'RTX A4000', 'RTX A4500', 'RTX A5000', 'RTX A6000'],
    ...['RTX 2000Ada', 'RTX 4000Ada', 'RTX 4500Ada', 'RTX 5000Ada', 'RTX 5880Ada', 'RTX 6000Ada'],
    ...['RTX PRO 4000', 'RTX PRO 4000 Mobile', 'RTX PRO 4500', 'RTX PRO 5000', 'RTX PRO 6000'],
    ...['RTX PRO 6000 S', 'RTX PRO 6000 WS', 'RTX PRO 6000 Max-Q'],
    // NVIDIA mining / other
    ...['CMP 50HX', 'CMP 170HX', 'P104-100', 'P106-100'],
    // AMD Instinct, Radeon Pro, Radeon RX
    ...['InstinctMI50', 'InstinctMI100', 'InstinctMI210', 'InstinctMI250X'],
    ...['PRO W6800', 'PRO W7800', 'PRO W7900', 'Pro V620', 'Radeon VII', 'Radeon Pro VII'],
    ...['RX 6800', 'RX 6800 XT', 'RX 6900 XT', 'RX 6950 XT', 'RX 7600', 'RX 7700 XT', 'RX 7800 XT'],
    ...['RX 7900 GRE', 'RX 7900 XT', 'RX 7900 XTX'],
  ],
  runpod: [
    ...['MI300X', 'A100 PCIe', 'A100 SXM', 'A30', 'A40', 'B200', 'B300', 'RTX 3070', 'RTX 3080'],
    ...['RTX 3080 Ti', 'RTX 3090', 'RTX 3090 Ti', 'RTX 4070 Ti', 'RTX 4080', 'RTX 4080 SUPER'],
    ...['RTX 4090', 'RTX 5080', 'RTX 5090', 'H100 SXM', 'H100 NVL', 'H100 PCIe', 'H200 SXM', 'H200 NVL'],
    ...['L4', 'L40', 'L40S', 'RTX 2000 Ada', 'RTX 4000 Ada', 'RTX 4000 Ada SFF', 'RTX 5000 Ada'],
    ...['RTX 6000 Ada', 'RTX A2000', 'RTX A4000', 'RTX A4500', 'RTX A5000', 'RTX A6000'],
    ...['V100 FHHL', 'Tesla V100', 'V100 SXM2', 'V100 SXM2 32GB'],
    ...['RTX PRO 6000', 'RTX PRO 6000 WK', 'RTX PRO 6000 MaxQ', 'RTX PRO 4500'],
    ...['A100 SXM 40GB', 'RTX PRO 6000 MIG 24GB', 'RTX PRO 6000 MIG 48GB'],
  ],
};

const KEYS_BY_PROVIDER: ReadonlyMap<ProviderName, ReadonlySet<string>> = new Map(
  Object.entries(PROVIDER_GPU_NAMES).map(([provider, names]) => [
    provider as ProviderName,
    new Set(names.map(gpuKey)),
  ]),
);

/** The providers that list a GPU of this name (any spelling {@link gpuKey} folds together). */
export function providersOfGpu(name: string): ProviderName[] {
  const accepted = acceptedGpuKeys(name);
  return [...KEYS_BY_PROVIDER]
    .filter(([, keys]) => accepted.some((key) => keys.has(key)))
    .map(([provider]) => provider);
}

/**
 * A provider's own spellings of the requested names (Vast: `["RTX 4080S"]` for "RTX 4080
 * SUPER"). Names the provider does not list contribute nothing: they match none of its offers.
 */
export function providerGpuNames(provider: ProviderName, requested: readonly string[]): string[] {
  const out = new Set<string>();
  for (const name of requested) {
    const accepted = new Set(acceptedGpuKeys(name));
    for (const own of PROVIDER_GPU_NAMES[provider]) if (accepted.has(gpuKey(own))) out.add(own);
  }
  return [...out];
}

/** Every provider's names, once each (for suggestions and docs). */
export const KNOWN_GPU_NAMES: readonly string[] = [...new Set(Object.values(PROVIDER_GPU_NAMES).flat())];
