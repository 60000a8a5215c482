import type { Requirements } from '../annotations/requirements.ts';
import type { Explanation } from '../filter/explain.ts';
import type { Offer } from '../offers/offer.ts';

/** What `anex offers` shows about one offer (undefined fields are left out of the JSON). */
export function offerView(offer: Offer): Record<string, unknown> {
  return {
    offerId: offer.offerId,
    machineId: offer.machineId,
    gpuName: offer.gpuName,
    gpuTypeId: offer.gpuTypeId,
    gpuCount: offer.gpuCount,
    vramMb: offer.vramMb,
    pricePerHour: offer.pricePerHour,
    region: offer.region,
    countryCode: offer.countryCode,
    location: offer.location,
    cpuCores: offer.cpuCores,
    ramMb: offer.ramMb,
    downloadMbps: offer.downloadMbps,
    diskGb: offer.diskGb,
    cudaMax: offer.cudaMax,
    verified: offer.verified,
    datacenter: offer.datacenter,
    reliability: offer.reliability,
    cloudType: offer.cloudType,
    dataCenterId: offer.dataCenterId,
    stock: offer.stock,
  };
}

export interface OffersReport {
  requirements: Requirements;
  candidates: readonly Offer[];
  explanation: Explanation;
  limit: number;
}

export function renderJson({ requirements, candidates, explanation, limit }: OffersReport): string {
  const body = {
    provider: requirements.provider,
    total: explanation.total,
    matched: explanation.matched,
    diskToAllocateGb: requirements.diskToAllocateGb,
    candidates: candidates.slice(0, limit).map(offerView),
    funnel: explanation.funnel,
    nearMiss:
      explanation.nearMiss === undefined
        ? undefined
        : { ...explanation.nearMiss, offer: offerView(explanation.nearMiss.offer) },
    notes: explanation.notes,
    warnings: requirements.warnings,
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}

/** "$1.23/h"; up to 4 decimals when the cents alone would hide a difference ("$1.499/h"). */
export function formatPrice(pricePerHour: number): string {
  const cents = pricePerHour.toFixed(2);
  const precise = pricePerHour.toFixed(4).replace(/0+$/, '');
  return `$${Number(cents) === Number(precise) ? cents : precise}/h`;
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, c) => cell.padEnd(widths[c] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function candidateRows(candidates: readonly Offer[], runpod: boolean): string[][] {
  const header = [
    '#',
    'OFFER',
    'GPU',
    'VRAM/GPU',
    'PRICE',
    'REGION',
    runpod ? 'CLOUD' : 'MACHINE',
    'LOCATION',
  ];
  const rows = candidates.map((offer, i) => [
    String(i + 1),
    offer.offerId,
    `${offer.gpuCount}x ${offer.gpuName}`,
    `${offer.vramMb} MB`,
    formatPrice(offer.pricePerHour),
    offer.region ?? '?',
    (runpod ? offer.cloudType : offer.machineId) ?? '',
    offer.location ?? '',
  ]);
  return [header, ...rows];
}

export function renderTable({ requirements, candidates, explanation, limit }: OffersReport): string {
  const shown = candidates.slice(0, limit);
  const lines = [
    `${requirements.provider}: ${explanation.matched} of ${explanation.total} offers match` +
      (shown.length < candidates.length ? ` (showing the first ${shown.length})` : '') +
      `; disk to allocate ${requirements.diskToAllocateGb} GB`,
  ];
  if (shown.length > 0) lines.push('', table(candidateRows(shown, requirements.provider === 'runpod')));
  lines.push('', 'Filters (offers left after each):');
  lines.push(table(explanation.funnel.map((step) => [`  ${step.filter}`, String(step.remaining)])));
  const miss = explanation.nearMiss;
  if (miss !== undefined) {
    lines.push(
      '',
      `Nearest miss: ${miss.offer.offerId} (${miss.offer.gpuCount}x ${miss.offer.gpuName}, ${formatPrice(miss.offer.pricePerHour)}) fails ${miss.filter}: ${miss.reason}`,
    );
  }
  for (const note of explanation.notes) lines.push(`Note: ${note}`);
  return `${lines.join('\n')}\n`;
}
