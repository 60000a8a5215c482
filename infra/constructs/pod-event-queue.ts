import { Duration } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface PodEventQueueProps {
  /**
   * How long a received message stays hidden; AWS advises ≥ 6 × the consumer's timeout.
   * @default Duration.seconds(180)
   */
  readonly visibilityTimeout?: Duration;
  /**
   * Deliveries before a message moves to the dead-letter queue.
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * How long the dead-letter queue keeps a message for inspection.
   * @default Duration.days(14)
   */
  readonly deadLetterRetention?: Duration;
}

/**
 * Per-pod pass requests ("look at pod <uid> now"), from the admission webhook and the
 * agent endpoint to the pod-events function. Messages are hints: a lost one only delays a
 * pod to the next tick, so a standard (not FIFO) queue is enough. Encrypted, TLS-only, with
 * a dead-letter queue for messages that keep failing.
 */
export class PodEventQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: PodEventQueueProps = {}) {
    super(scope, id);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: props.deadLetterRetention ?? Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: props.visibilityTimeout ?? Duration.seconds(180),
      // A pod pass request older than a day is superseded by 1440 ticks.
      retentionPeriod: Duration.days(1),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? 5 },
    });
  }
}
