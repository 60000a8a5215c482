import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';

/** What the deadline middleware adds to the Lambda context. */
export interface Deadline {
  /** epoch ms after which no new work may start (the Lambda deadline minus the margin) */
  at: number;
  /** aborts at `at`; pass it to every outbound call and loop */
  signal: AbortSignal;
}

export type DeadlineContext = Context & { deadline: Deadline };

/**
 * Gives the handler an AbortSignal that fires `marginMs` before the Lambda deadline, so it
 * stops starting work and returns cleanly with time to log and write what it has — rather than
 * being frozen mid-call when Lambda kills it. The timer is cleared when the handler ends
 * (a pending timer would keep running into the next invocation of a warm container).
 */
export function deadlineSignal(options: {
  marginMs: number;
  clock?: () => number;
}): MiddlewareObj<unknown, unknown, Error, Context> {
  const clock = options.clock ?? Date.now;
  let timer: NodeJS.Timeout | undefined;
  const clear = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  return {
    name: 'anex-deadline-signal',
    before: (request) => {
      const remaining = request.context.getRemainingTimeInMillis();
      const budget = Math.max(0, remaining - options.marginMs);
      const controller = new AbortController();
      timer = setTimeout(() => controller.abort(new Error('Lambda deadline approaching')), budget);
      (request.context as DeadlineContext).deadline = { at: clock() + budget, signal: controller.signal };
    },
    after: clear,
    onError: clear,
  };
}
