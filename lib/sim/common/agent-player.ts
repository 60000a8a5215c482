import { AGENT_ENV } from '../../tunnel/agent/script.ts';
import { wgKeyPair } from '../../tunnel/keys.ts';

/** A simulated instance the marketplace reports running, with the env it was created with. */
export interface RunningInstance {
  id: string;
  env: Readonly<Record<string, string>>;
  /** the argv the provider's runtime started (lib/sim/common/container.ts); absent when it started nothing */
  argv?: readonly string[];
}

export interface AgentPlayerOptions {
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** progress and failures, worded for a person (never a token or credential) */
  onEvent?: (message: string) => void;
  /** bootstrap attempts per instance before giving up, as a real agent would exit @default 5 */
  maxAttempts?: number;
}

type Outcome = 'started' | 'gave-up';

/**
 * Plays the anex agent inside simulated machines. The simulators run no processes yet, so once
 * an instance is running, its runtime started the launch stub (the argv the simulator computed
 * from the create request and the image, as the provider would) and its env carries the agent
 * endpoint and one-time token, this does over HTTP what lib/tunnel/agent/agent.sh does: POST /v1/bootstrap with
 * the token and a fresh X25519 public key, then POST /v1/status `started` with the credential
 * the bootstrap returned. It downloads and runs nothing; everything the control plane sees
 * goes through the real agent endpoint. Instances without the agent env (plain launch) are
 * left alone.
 */
export class AgentPlayer {
  readonly #fetch: typeof fetch;
  readonly #onEvent: (message: string) => void;
  readonly #maxAttempts: number;
  readonly #outcomes = new Map<string, Outcome>();
  readonly #attempts = new Map<string, number>();

  constructor(options: AgentPlayerOptions = {}) {
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#onEvent = options.onEvent ?? (() => {});
    this.#maxAttempts = options.maxAttempts ?? 5;
  }

  /** Plays the agent of every instance not played yet; one failure never stops the others. */
  async play(instances: readonly RunningInstance[]): Promise<void> {
    for (const instance of instances) {
      const { [AGENT_ENV.url]: url, [AGENT_ENV.token]: token, [AGENT_ENV.podUid]: podUid } = instance.env;
      if (!url || !token || !podUid || this.#outcomes.has(instance.id)) continue;
      // Only a container whose runtime really started the launch stub runs the agent: a launch the
      // provider mangled (split, quoted, handed to the image's ENTRYPOINT) never bootstraps.
      if (!startsTheStub(instance.argv)) continue;
      try {
        await this.#start(instance.id, { url, token, podUid });
        this.#outcomes.set(instance.id, 'started');
        this.#onEvent(`simulated agent on instance ${instance.id}: container started`);
      } catch (error) {
        this.#failed(instance.id, error);
      }
    }
  }

  async #start(instanceId: string, agent: { url: string; token: string; podUid: string }): Promise<void> {
    const { publicKey } = wgKeyPair();
    const config = await this.#post(`${agent.url}/v1/bootstrap`, {
      body: {
        token: agent.token,
        podUid: agent.podUid,
        instanceId,
        publicKey,
        arch: 'amd64',
        format: 'json',
      },
    });
    const credential = (config as { statusCredential?: unknown }).statusCredential;
    if (typeof credential !== 'string') throw new Error('bootstrap answer has no statusCredential');
    await this.#post(`${agent.url}/v1/status`, {
      body: { podUid: agent.podUid, state: 'started' },
      bearer: credential,
    });
  }

  async #post(url: string, request: { body: unknown; bearer?: string }): Promise<unknown> {
    const response = await this.#fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(request.bearer === undefined ? {} : { authorization: `Bearer ${request.bearer}` }),
      },
      body: JSON.stringify(request.body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    if (!response.ok) {
      const detail = /"error"\s*:\s*"([^"]{0,200})"/.exec(text)?.[1] ?? `HTTP ${response.status}`;
      throw new Error(`${new URL(url).pathname} answered ${response.status}: ${detail}`);
    }
    return JSON.parse(text) as unknown;
  }

  #failed(instanceId: string, error: unknown): void {
    const attempts = (this.#attempts.get(instanceId) ?? 0) + 1;
    this.#attempts.set(instanceId, attempts);
    const reason = error instanceof Error ? error.message : String(error);
    if (attempts >= this.#maxAttempts) {
      this.#outcomes.set(instanceId, 'gave-up');
      this.#onEvent(
        `simulated agent on instance ${instanceId}: gave up after ${attempts} attempts (${reason})`,
      );
    } else {
      this.#onEvent(`simulated agent on instance ${instanceId}: ${reason}; retrying`);
    }
  }
}

/** `/bin/sh -c <the launch stub>`: the exec form lib/tunnel/agent/stub.ts makes. */
function startsTheStub(argv: readonly string[] | undefined): boolean {
  return (
    argv?.[0] === '/bin/sh' &&
    argv[1] === '-c' &&
    argv.length === 3 &&
    (argv[2]?.includes('/v1/agent/') ?? false)
  );
}
