import type { SQSBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PodEventMessage } from '../../../lib/admission/pod-event.ts';
import { PROVISIONED } from '../../../lib/reconcile/status.ts';
import { createTestNamespace, type TestNamespace } from '../../support/index.ts';
import { type FunctionGround, type LambdaHandler, liveInstances, startFunctionGround } from './ground.ts';
import { aLambdaContext, anSqsEvent, anSqsRecord, aSchedulerEvent } from './lambda-events.ts';
import { captureOutput, type OutputCapture } from './output-capture.ts';
import { createBoundSeedPod, deleteThrough } from './pods.ts';

// The deployed pod-events function fed a batch as the SQS event source mapping delivers it,
// with bodies in the admission function's enqueue format (functions/support/sqs-sink.ts:
// JSON of PodEventMessage), on the real parts, as the anex ServiceAccount. RunPod here (the
// tick test rents on Vast).

let ground: FunctionGround;
let podEvents: LambdaHandler<unknown, SQSBatchResponse>;
let tick: LambdaHandler<unknown, void>;
let ns: TestNamespace;
let output: OutputCapture;

beforeAll(async () => {
  ground = await startFunctionGround({ runpod: true });
  podEvents = ((await import('../../../functions/pod-events.ts')) as { handler: typeof podEvents }).handler;
  tick = ((await import('../../../functions/tick.ts')) as { handler: typeof tick }).handler;
  ns = await createTestNamespace('fn-events');
  output = captureOutput();
});

afterAll(async () => {
  output?.stop();
  await ns?.remove();
  await ground?.stop();
});

/** What the admission function enqueues (sqsPodEventSink sends JSON.stringify(message)). */
function enqueued(message: PodEventMessage): string {
  return JSON.stringify(message);
}

async function deliver(records: Record<string, unknown>[]): Promise<SQSBatchResponse> {
  return podEvents(anSqsEvent(records), aLambdaContext('anex-pod-events', 25_000));
}

function logsFor(messageId: string): Record<string, unknown>[] {
  return output.lines().filter((line) => line.messageId === messageId);
}

describe('pod-events handler on the real parts, as the anex ServiceAccount', () => {
  it('passes the pod of a valid message, drops the malformed one, and answers only retryable failures', async () => {
    // The node comes from a tick before the pod exists, so the pass below is pod-events' own.
    await tick(aSchedulerEvent(), aLambdaContext('anex-tick', 6_000));
    const { name, uid } = await createBoundSeedPod(ns, 'seed-example-runpod.yaml', ground.nodeNames.runpod);
    expect(await ground.store.getPod(uid)).toBeUndefined();

    const valid = anSqsRecord(enqueued({ podUid: uid, namespace: ns.name, name, cause: 'bound' }));
    const malformed = anSqsRecord('{"podUid": "1234", "namespace": ');
    const duplicate = anSqsRecord(enqueued({ namespace: ns.name, name, cause: 'bound' }));
    const response = await deliver([valid, malformed, duplicate]);

    // A body that cannot be read is dropped, not redelivered (retrying cannot fix it:
    // functions/support/pod-batch.ts); only retryable failures would be listed.
    expect(response).toEqual({ batchItemFailures: [] });
    expect(logsFor(malformed.messageId as string)).toEqual([
      expect.objectContaining({ level: 'ERROR', message: 'unreadable pod event dropped' }),
    ]);
    expect(logsFor(valid.messageId as string)).toEqual([
      expect.objectContaining({ message: 'pod pass', podUid: uid, errorCount: 0 }),
    ]);
    // The name-only message resolves to the same pod: one pass per pod per batch.
    expect(logsFor(duplicate.messageId as string)).toEqual([
      expect.objectContaining({ message: 'pod event duplicate', podUid: uid }),
    ]);
    const record = await ground.store.getPod(uid);
    expect(record?.provider).toBe('runpod');
    expect(liveInstances(ground).map((i) => [i.id, i.label])).toEqual([
      [record?.instance?.id, `anex.${ground.clusterId}.${uid}`],
    ]);
    const pod = await ns.core.readNamespacedPod({ namespace: ns.name, name });
    expect(pod.status?.conditions?.map((c) => c.type)).toContain(PROVISIONED);

    const deleted = enqueued({ podUid: uid, namespace: ns.name, name, cause: 'deleted' });
    await deleteThrough(ns, name, async () => {
      expect(await deliver([anSqsRecord(deleted)])).toEqual({ batchItemFailures: [] });
    });
    expect(liveInstances(ground)).toEqual([]);
    ground.runpod?.assertNoInstances();
    ground.vast.assertNoInstances();
  });
});
