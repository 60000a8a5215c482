/**
 * GPU model names → one comparison key, so `anex.sh/gpu-names: "RTX 4080 SUPER"` matches a
 * Vast `gpu_name` of "RTX 4080S" and a RunPod display name of "RTX 4080 SUPER" alike.
 *
 * Rule (DESIGN §3): case-insensitive; spaces, hyphens and underscores ignored; the vendor
 * words NVIDIA and GeForce dropped anywhere, and "Tesla" dropped as a leading brand word
 * (it never tells two cards apart: "Tesla V100" is the V100); then an alias table maps the
 * providers' differing spellings onto one key.
 */

const VENDOR_WORDS = new Set(['nvidia', 'geforce', 'amd']);

/**
 * Spellings that differ between providers after the basic folding, mapped to one key.
 * Left side: folded key as a provider or a user writes it; right side: the canonical key.
 * Sources: providers.md §6 (Vast `gpu_name` ↔ RunPod display name) and §3.13 (RunPod ids).
 */
const ALIASES: Readonly<Record<string, string>> = {
  // Vast "A100 SXM4" is RunPod's "A100 SXM" (both are the SXM4 module).
  a100sxm4: 'a100sxm',
  // Vast "H200" is the SXM part RunPod calls "H200 SXM".
  h200: 'h200sxm',
  // Vast suffixes SUPER with "S" ("RTX 4080S", "RTX 4070S", "RTX 4070S Ti").
  rtx4080s: 'rtx4080super',
  rtx4070s: 'rtx4070super',
  rtx4070sti: 'rtx4070tisuper',
  rtx4070superti: 'rtx4070tisuper',
  rtx2060s: 'rtx2060super',
  rtx2070s: 'rtx2070super',
  rtx2080s: 'rtx2080super',
  gtx1650s: 'gtx1650super',
  gtx1660s: 'gtx1660super',
  // Vast "GeForce 970" folds to "970"; people write "GTX 970".
  '970': 'gtx970',
  // RunPod ids of models whose display name is shorter ("NVIDIA B300 SXM6 AC" is "B300").
  b300sxm6ac: 'b300',
  v100fhhl16gb: 'v100fhhl',
  // Workstation edition: Vast "WS", RunPod "WK".
  rtxpro6000wk: 'rtxpro6000ws',
  rtxpro6000workstationedition: 'rtxpro6000ws',
  rtxpro6000blackwellworkstationedition: 'rtxpro6000ws',
  // Server edition: Vast "RTX PRO 6000 S", RunPod display "RTX PRO 6000" (id "… Server Edition").
  rtxpro6000s: 'rtxpro6000',
  rtxpro6000blackwellserveredition: 'rtxpro6000',
  rtxpro6000maxqworkstationedition: 'rtxpro6000maxq',
  rtxpro6000blackwellmaxqworkstationedition: 'rtxpro6000maxq',
  // RunPod ids spell out "Generation" ("NVIDIA RTX 6000 Ada Generation").
  rtx6000adageneration: 'rtx6000ada',
  rtx4000adageneration: 'rtx4000ada',
  rtx4000sffadageneration: 'rtx4000adasff',
  rtx2000adageneration: 'rtx2000ada',
  rtx4500adageneration: 'rtx4500ada',
  rtx5000adageneration: 'rtx5000ada',
  rtx5880adageneration: 'rtx5880ada',
  // RunPod ids carry memory and form factor ("NVIDIA A100 80GB PCIe", "NVIDIA A100-SXM4-80GB").
  a10080gbpcie: 'a100pcie',
  a100sxm480gb: 'a100sxm',
  a100sxm440gb: 'a100sxm40gb',
  h10080gbhbm3: 'h100sxm',
  v100pcie16gb: 'v100',
  v100sxm216gb: 'v100sxm2',
  // Quadro RTX 8000: Vast "Q RTX 8000".
  quadrortx8000: 'qrtx8000',
  quadrortx6000: 'qrtx6000',
  quadrortx5000: 'qrtx5000',
  quadrortx4000: 'qrtx4000',
  // AMD Instinct: Vast "InstinctMI250X", RunPod "MI300X" (id "AMD Instinct MI300X OAM").
  instinctmi50: 'mi50',
  instinctmi100: 'mi100',
  instinctmi210: 'mi210',
  instinctmi250x: 'mi250x',
  instinctmi300xoam: 'mi300x',
  mi300xoam: 'mi300x',
};

/**
 * The comparison key of a GPU name: `gpuKey("NVIDIA GeForce RTX 4080S") === gpuKey("RTX 4080 SUPER")`.
 * Pure and cheap enough for normalizers to call once per offer (the filter engine never does).
 */
export function gpuKey(name: string): string {
  const words = name.toLowerCase().split(/[\s\-_]+/);
  let folded = '';
  for (let i = 0; i < words.length; i++) {
    const word = words[i] ?? '';
    if (word === '' || VENDOR_WORDS.has(word)) continue;
    if (word === 'tesla' && folded === '') continue;
    folded += word;
  }
  return ALIASES[folded] ?? folded;
}

/**
 * A requested name that covers several models a provider lists apart. Vast reports every
 * V100 as "Tesla V100" while RunPod splits PCIe ("Tesla V100") from SXM2 ("V100 SXM2",
 * "V100 SXM2 32GB"); providers.md §6 matches Vast's name to all of them. One-way on purpose:
 * asking for "V100 SXM2" must not match a Vast "Tesla V100" of unknown form factor.
 */
const FAMILIES: Readonly<Record<string, readonly string[]>> = {
  v100: ['v100', 'v100sxm2', 'v100sxm232gb'],
};

/** The offer keys a requested GPU name accepts (its own key, plus the family it names). */
export function acceptedGpuKeys(requested: string): readonly string[] {
  const key = gpuKey(requested);
  return FAMILIES[key] ?? [key];
}

/** True when two spellings name the same GPU model. */
export function sameGpu(a: string, b: string): boolean {
  return gpuKey(a) === gpuKey(b);
}
