import { StepFailure } from './wait.ts';

/**
 * The agent mode's first step (ADR 0018): is the stack's agent endpoint there? One GET of
 * `/v1/pod-alive` without a pod UID and without credentials: the endpoint's handler answers it
 * 400 `{"error": "query parameter podUid must be a pod UID"}` before any credential is
 * looked at, so the probe counts as no failed authentication (the AgentAuthFailures alarm).
 * Any answer in the handler's shape (JSON with an `error` string, any status) proves the
 * route reaches anex; a DNS, TLS or connection error, or an answer from something else (a
 * proxy's HTML 404, a wrong path) fails — no machine is rented before this passes.
 */
export async function probeAgentEndpoint(
  agentUrl: string,
  options: { fetch?: typeof globalThis.fetch; timeoutMs?: number; signal?: AbortSignal | undefined } = {},
): Promise<string> {
  const url = `${agentUrl}/v1/pod-alive`;
  const signals = [AbortSignal.timeout(options.timeoutMs ?? 15_000)];
  if (options.signal !== undefined) signals.push(options.signal);
  let response: Response;
  try {
    response = await (options.fetch ?? globalThis.fetch)(url, {
      method: 'GET',
      redirect: 'manual',
      signal: AbortSignal.any(signals),
    });
  } catch (error) {
    throw new StepFailure(`GET ${url} failed: ${networkReason(error)}; nothing was created`);
  }
  const text = await response.text().catch(() => '');
  const said = handlerError(text);
  if (said === undefined) {
    const type = response.headers.get('content-type') ?? 'no content type';
    throw new StepFailure(
      `GET ${url} answered HTTP ${response.status} (${type}) that is not the anex agent endpoint's: ` +
        'pass the stack output AgentUrl as --agent-url; nothing was created',
    );
  }
  return `GET /v1/pod-alive answered HTTP ${response.status} "${said}" (no credentials sent)`;
}

/** The handler's `{"error": "…"}` (lib/tunnel/endpoint/http.ts `fail`), else undefined. */
function handlerError(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as unknown;
    if (typeof body === 'object' && body !== null && 'error' in body && typeof body.error === 'string')
      return body.error.slice(0, 200);
  } catch {
    // not JSON: not the handler
  }
  return undefined;
}

/** fetch's own words are "fetch failed"; the cause says DNS, TLS or the connection. */
function networkReason(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))
    return 'no answer in time';
  const cause =
    error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
  const code = cause?.code ?? '';
  const message = cause?.message ?? (error instanceof Error ? error.message : String(error));
  return code === '' ? message : `${code} (${message})`;
}
