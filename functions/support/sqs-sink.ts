import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { PodEventMessage, PodEventSink } from '../../lib/admission/pod-event.ts';
import { AnexError } from '../../lib/errors.ts';

/** Per-pod pass requests onto the stack's queue. Failures are `unavailable` (the caller decides). */
export function sqsPodEventSink(queueUrl: string, client = new SQSClient({})): PodEventSink {
  return {
    async send(message: PodEventMessage, options = {}) {
      try {
        await client.send(
          new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(message) }),
          options.signal === undefined ? {} : { abortSignal: options.signal },
        );
      } catch (error) {
        const name = error instanceof Error ? error.name : 'Error';
        throw new AnexError(`cannot enqueue a pass for pod ${message.namespace}/${message.name} (${name})`, {
          kind: 'unavailable',
          retryable: true,
          cause: error,
        });
      }
    },
  };
}
