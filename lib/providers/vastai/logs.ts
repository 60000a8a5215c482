import { setTimeout as sleep } from 'node:timers/promises';
import { AnexError } from '../../errors.ts';
import { redactUrl } from '../http/redact.ts';
import type { LogOptions } from '../provider.ts';
import type { VastAiClient } from './client.ts';

export interface VastLogFetchOptions {
  fetch?: typeof globalThis.fetch | undefined;
  /** the Vast API origin: an `http://` result URL is accepted only when this is http too (a simulator) */
  apiBaseUrl: string;
  /** pause between polls of the upload, ms (vast-cli `_poll_result_url`: 0.3 s) @default 300 */
  pollMs?: number;
  /** polls before giving up (vast-cli: 30) @default 30 */
  polls?: number;
}

/**
 * Vast's log read as vast-cli does it (`vastai/api/instances.py` `logs` + `_poll_result_url`):
 * `request_logs` names an S3 URL the text is uploaded to shortly; it is fetched with a plain
 * GET — never the Vast key, which S3 would refuse and must not see — until it answers 200.
 * 404 meanwhile is "not uploaded yet"; anything else, or no upload within the polls, is
 * kind `unavailable` naming the URL without its query (a presigned URL's signature).
 */
export async function readInstanceLogs(
  client: VastAiClient,
  fetchOptions: VastLogFetchOptions,
  instanceId: string,
  options: LogOptions,
): Promise<string[]> {
  const url = await client.requestLogs(instanceId, options.tail ?? 1000, options);
  checkResultUrl(url, fetchOptions.apiBaseUrl);
  const shown = redactUrl(url).replace(/\?.*$/, '');
  const polls = fetchOptions.polls ?? 30;
  for (let poll = 0; poll < polls; poll++) {
    await sleep(fetchOptions.pollMs ?? 300, undefined, options.signal ? { signal: options.signal } : {});
    if (options.deadline !== undefined && Date.now() >= options.deadline) {
      throw new AnexError(`vastai log upload ${shown} was not there before the call's deadline`, {
        kind: 'timeout',
        retryable: true,
      });
    }
    const response = await (fetchOptions.fetch ?? globalThis.fetch)(url, {
      ...(options.signal ? { signal: options.signal } : {}),
    }).catch((error: unknown) => {
      throw new AnexError(`vastai log upload ${shown}: no answer (${(error as Error).name})`, {
        kind: 'unavailable',
        retryable: true,
        cause: error,
      });
    });
    const text = await response.text();
    if (response.status === 200) return text.split('\n').filter((line) => line.trim() !== '');
    if (response.status !== 404 && response.status !== 403) {
      throw new AnexError(`vastai log upload ${shown} answered HTTP ${response.status}: ${s3Code(text)}`, {
        kind: 'unavailable',
        retryable: true,
      });
    }
  }
  throw new AnexError(`vastai log upload ${shown} was not there after ${polls} polls`, {
    kind: 'unavailable',
    retryable: true,
  });
}

/** https only, unless the API itself is plain http (a simulator on loopback). */
function checkResultUrl(url: string, apiBaseUrl: string): void {
  const scheme = new URL(url).protocol;
  if (scheme === 'https:' || (scheme === 'http:' && new URL(apiBaseUrl).protocol === 'http:')) return;
  throw new AnexError(`vastai request_logs named a result_url anex will not fetch: ${redactUrl(url)}`, {
    kind: 'bad-response',
  });
}

/** S3's `<Code>` from an XML error body, else a short excerpt. */
function s3Code(text: string): string {
  return /<Code>([^<]{1,64})<\/Code>/.exec(text)?.[1] ?? text.slice(0, 120);
}
