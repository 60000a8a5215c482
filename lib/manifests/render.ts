import { stringify } from 'yaml';
import type { KubeObject, ManifestOptions } from './common.ts';
import { type GatewayOptions, gatewayManifests } from './gateway.ts';
import { rbacManifests } from './rbac.ts';
import { webhookManifests } from './webhook.ts';

export interface ManifestSet {
  /** in apply order: namespace and RBAC first, then the webhook, then the gateway */
  objects: KubeObject[];
  /** what was left out and why, for stderr */
  notes: string[];
}

export function buildManifests(options: ManifestOptions & { gateway?: GatewayOptions }): ManifestSet {
  const notes: string[] = [];
  const objects = rbacManifests(options);
  if (options.webhookUrl === undefined) {
    notes.push(
      'no --webhook-url: the admission webhooks are not included (pods are still found by the minute tick, but get no outage tolerations: add them to your pod templates, docs/deploy.md)',
    );
  } else {
    objects.push(...webhookManifests({ ...options, webhookUrl: options.webhookUrl }));
  }
  const gateway = gatewayManifests(options);
  objects.push(...gateway.objects);
  notes.push(...gateway.notes);
  return { objects, notes };
}

export type ManifestFormat = 'yaml' | 'json';

/** Multi-document YAML (`kubectl apply -f -`) or a v1 List in JSON (also apply-able). */
export function formatManifests(objects: readonly KubeObject[], format: ManifestFormat): string {
  if (format === 'json') {
    return `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2)}\n`;
  }
  return objects.map((o) => `---\n${stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })}`).join('');
}
