import type { AdmissionSettings } from '../../lib/admission/decide.ts';
import type { PodEventSink } from '../../lib/admission/pod-event.ts';
import { loadConfigFromEnv } from '../../lib/config/config.ts';
import type { Secret } from '../../lib/config/secrets.ts';
import { MANIFEST_DEFAULTS } from '../../lib/manifests/common.ts';
import { credentials, functionEnv, once, required } from './composition-root.ts';
import { sqsPodEventSink } from './sqs-sink.ts';

/** What the admission webhook needs: its token, where to enqueue, and which nodes are anex's. */
export interface AdmissionRoot {
  webhookToken: Secret;
  sink: PodEventSink;
  settings: AdmissionSettings;
}

export const admissionRoot: () => Promise<AdmissionRoot> = once(async () => {
  const { webhookToken } = await credentials('webhook');
  const config = loadConfigFromEnv(process.env);
  return {
    webhookToken,
    sink: sqsPodEventSink(required(functionEnv().queueUrl, 'ANEX_QUEUE_URL')),
    settings: {
      nodeNames: config.providers.map((p) => config.nodeNames[p]),
      nodeSelectorKey: MANIFEST_DEFAULTS.nodeSelectorKey,
      nodeSelectorValues: MANIFEST_DEFAULTS.nodeSelectorValues,
    },
  };
});
