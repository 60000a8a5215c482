import { describe, expect, it } from 'vitest';
import { AgentPlayer, type RunningInstance } from '../../../lib/sim/common/agent-player.ts';
import { AGENT_ENV } from '../../../lib/tunnel/agent/script.ts';
import { agentCommand, scriptAgentArtifact } from '../../../lib/tunnel/agent/stub.ts';
import { handleAgentRequest } from '../../../lib/tunnel/endpoint/handler.ts';
import { issueBootstrapToken, newSecret } from '../../../lib/tunnel/tokens.ts';
import { aLaunch, type EndpointHarness, endpointHarness } from '../../support/tunnel.ts';

const ENDPOINT = 'https://agent.anex.test';

/** A fetch that hands each request to the real agent endpoint handler, as its HTTP server would. */
function endpointFetch(h: EndpointHarness, paths: string[]): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    paths.push(url.pathname);
    const response = await handleAgentRequest(
      {
        method: init?.method ?? 'GET',
        path: url.pathname,
        headers: Object.fromEntries(new Headers(init?.headers).entries()),
        body: String(init?.body ?? ''),
      },
      h.deps,
    );
    return new Response(response.body, { status: response.status, headers: response.headers });
  }) as typeof fetch;
}

async function agentInstance(h: EndpointHarness, token?: string): Promise<RunningInstance> {
  const launch = aLaunch();
  h.backend.addPod(launch);
  const issued = await issueBootstrapToken(h.store, { podUid: launch.podUid, now: h.clock.now });
  return {
    id: `i-${launch.podUid.slice(0, 8)}`,
    argv: agentCommand(scriptAgentArtifact()),
    env: {
      [AGENT_ENV.url]: ENDPOINT,
      [AGENT_ENV.token]: token ?? issued.token,
      [AGENT_ENV.podUid]: launch.podUid,
    },
  };
}

function podUidOf(instance: RunningInstance): string {
  return instance.env[AGENT_ENV.podUid] as string;
}

describe('AgentPlayer (the agent inside simulated machines)', () => {
  it('bootstraps with the token, then reports started with the credential it was given — once', async () => {
    const h = endpointHarness();
    const paths: string[] = [];
    const player = new AgentPlayer({ fetch: endpointFetch(h, paths) });
    const instance = await agentInstance(h);

    await player.play([instance]);
    await player.play([instance]);

    expect(paths).toEqual(['/v1/bootstrap', '/v1/status']);
    expect(h.backend.reports(podUidOf(instance)).map((r) => r.state)).toEqual(['started']);
  });

  it('leaves plain launches alone (no agent env, no request)', async () => {
    const h = endpointHarness();
    const paths: string[] = [];
    const player = new AgentPlayer({ fetch: endpointFetch(h, paths) });

    await player.play([{ id: 'i-plain', env: { ANEX_POD_UID: '6f1c2d3e-0000-4000-8000-000000000001' } }]);

    expect(paths).toEqual([]);
  });

  it.each([
    { name: 'no container started (the launch failed to start)', argv: undefined },
    {
      name: 'the stub handed to an image ENTRYPOINT as arguments',
      argv: ['python3', '-m', 'x', '/bin/sh', '-c', 'x'],
    },
    { name: 'a shell-split stub', argv: ['/bin/sh', '-c', "'set", '-u;umask', "077'"] },
  ])('does not play an agent the runtime never started: $name', async ({ argv }) => {
    const h = endpointHarness();
    const paths: string[] = [];
    const player = new AgentPlayer({ fetch: endpointFetch(h, paths) });
    const { argv: _stub, ...instance } = await agentInstance(h);

    await player.play([{ ...instance, ...(argv === undefined ? {} : { argv }) }]);

    expect(paths).toEqual([]);
  });

  it('retries a refused bootstrap, then gives up like an agent that exits — never echoing the token', async () => {
    const h = endpointHarness();
    const events: string[] = [];
    const player = new AgentPlayer({
      fetch: endpointFetch(h, []),
      onEvent: (m) => events.push(m),
      maxAttempts: 2,
    });
    const wrongToken = newSecret(); // well formed, never issued
    const instance = await agentInstance(h, wrongToken);

    for (let round = 0; round < 3; round += 1) await player.play([instance]);

    expect(events).toEqual([
      `simulated agent on instance ${instance.id}: /v1/bootstrap answered 401: bootstrap token rejected (unknown); retrying`,
      `simulated agent on instance ${instance.id}: gave up after 2 attempts (/v1/bootstrap answered 401: bootstrap token rejected (unknown))`,
    ]);
    expect(events.join('\n')).not.toContain(wrongToken);
    expect(h.backend.reports(podUidOf(instance))).toEqual([]);
  });
});
