import {
  type ConfigurationOptions,
  Observable,
  type ObservableMiddleware,
  type PatchStrategy,
  type RequestContext,
  type ResponseContext,
  setHeaderOptions,
} from '@kubernetes/client-node';

/**
 * Per-call options for client-node's object-style API: a timeout on every request and,
 * for patches, the patch content type. The timeout matters: undici's own is 300 s, past any
 * Lambda deadline. That API takes observable middleware, built on client-node's own Observable.
 */
export function requestOptions(timeoutMs: number, patch?: PatchStrategy): ConfigurationOptions {
  const middleware: ObservableMiddleware = {
    pre: (context: RequestContext) => {
      context.setSignal(AbortSignal.timeout(timeoutMs));
      return new Observable(Promise.resolve(context));
    },
    post: (context: ResponseContext) => new Observable(Promise.resolve(context)),
  };
  const options = { middleware: [middleware], middlewareMergeStrategy: 'append' } as ConfigurationOptions;
  return patch === undefined
    ? options
    : (setHeaderOptions('Content-Type', patch, options as never) as ConfigurationOptions);
}
