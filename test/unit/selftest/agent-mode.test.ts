import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../lib/cli/main.ts';
import { requiredTaints } from '../../../lib/kube/virtual-node.ts';
import { probeAgentEndpoint } from '../../../lib/selftest/agent-endpoint.ts';
import { agentModeProblems, checkAgentUrl, checkNamespace } from '../../../lib/selftest/agent-input.ts';
import {
  newSelftestPodName,
  PRICE_MAX_KEY,
  SELFTEST_POD_LABEL,
  selftestPodManifest,
} from '../../../lib/selftest/agent-pod.ts';
import { heldCondition } from '../../../lib/selftest/agent-run.ts';
import { MARKER_NONCE_ENV, markerCommand } from '../../../lib/tunnel/agent/stub.ts';

/** `anex selftest --agent-url` (ADR 0018): its flags and the pod it asks the stack to rent. */

describe('--agent-url', () => {
  it.each([
    ['https://abc.execute-api.eu-west-1.amazonaws.com', 'https://abc.execute-api.eu-west-1.amazonaws.com'],
    ['https://agents.example.com/prod/', 'https://agents.example.com/prod'],
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
    ['http://127.9.0.1:80/', 'http://127.9.0.1'],
    ['http://localhost:3000', 'http://localhost:3000'],
    ['http://[::1]:3000', 'http://[::1]:3000'],
  ])('accepts %s', (value, url) => {
    expect(checkAgentUrl(value)).toBe(url);
  });

  it.each([
    [
      'http://agents.example.com',
      /--agent-url: "http:\/\/agents.example.com" must be https:\/\/ \(http:\/\/ only on loopback/,
    ],
    ['http://10.0.0.5:8080', /must be https:\/\/ \(http:\/\/ only on loopback: 127.0.0.1, ::1, localhost\)/],
    ['http://127.0.0.1.nip.io', /must be https:\/\//],
    ['ftp://127.0.0.1', /must be https:\/\//],
    [
      'agents.example.com',
      /--agent-url: "agents.example.com" is not a URL; expected the stack's agent endpoint, https:\/\/<host>/,
    ],
    ['https://user:pw@agents.example.com', /--agent-url: a URL with credentials is not accepted/],
    ['https://agents.example.com/?token=x', /has a query or fragment/],
  ])('refuses %s, naming the flag and the accepted form', (value, message) => {
    expect(() => checkAgentUrl(value)).toThrow(message);
  });
});

describe('--namespace and --kubeconfig', () => {
  it.each([
    [{ agentUrl: 'https://a.example', namespace: 'ml' }, []],
    [{}, []],
    [{ agentUrl: 'https://a.example' }, [/^--namespace <ns> is required with --agent-url/]],
    [{ namespace: 'ml' }, [/^--namespace only apply with --agent-url <url>/]],
    [{ namespace: 'ml', kubeconfig: 'k' }, [/^--namespace and --kubeconfig only apply with --agent-url/]],
  ] as const)('%j: %s', (flags, expected) => {
    const problems = agentModeProblems(flags);
    expect(problems).toHaveLength(expected.length);
    for (const [i, pattern] of expected.entries()) expect(problems[i]).toMatch(pattern);
  });

  it.each(['ml', 'team-a', 'a'.repeat(63)])('accepts namespace %s', (ns) => {
    expect(checkNamespace(ns)).toBe(ns);
  });

  it.each(['ML', '-a', 'a_b', 'a'.repeat(64), ''])('refuses namespace %j, naming the flag', (ns) => {
    expect(() => checkNamespace(ns)).toThrow(/^--namespace: .* is not a namespace name/);
  });
});

describe('anex selftest --agent-url: input errors exit 2 before anything is read', () => {
  afterEach(() => {
    process.exitCode = undefined;
  });

  async function run(args: string[]): Promise<{ code: number; stderr: string }> {
    let stderr = '';
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      stderr += String(chunk);
      return true;
    });
    try {
      return { code: await main(['selftest', '--provider', 'vastai', '--yes', ...args]), stderr };
    } finally {
      spy.mockRestore();
    }
  }

  it.each([
    [['--agent-url', 'http://agents.example.com', '--namespace', 'ml'], /--agent-url: .* must be https:\/\//],
    [['--agent-url', 'https://agents.example.com'], /--namespace <ns> is required with --agent-url/],
    [['--namespace', 'ml'], /--namespace only apply with --agent-url/],
    [
      ['--agent-url', 'https://agents.example.com', '--namespace', 'Bad_NS'],
      /--namespace: "Bad_NS" is not a namespace name/,
    ],
    [
      [
        '--agent-url',
        'https://agents.example.com',
        '--namespace',
        'ml',
        '--kubeconfig',
        '/nonexistent/kubeconfig',
      ],
      /cannot read kubeconfig \/nonexistent\/kubeconfig/,
    ],
  ])('%j', async (args, message) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });
});

describe('the selftest pod', () => {
  const base = {
    name: 'anex-selftest-0a1b2c3d',
    nonce: 'n0nce',
    ceilingPerHour: 1.5,
    activeDeadlineSeconds: 960,
  };

  it.each([
    ['vastai', { 'anex.sh/gpu-count': '1', 'anex.sh/disk-space-gb': '10', [PRICE_MAX_KEY]: '1.5000' }],
    [
      'runpod',
      {
        'anex.sh/gpu-count': '1',
        'anex.sh/disk-space-gb': '10',
        'runpod.anex.sh/cloud-type': 'SECURE',
        [PRICE_MAX_KEY]: '1.5000',
      },
    ],
  ] as const)(
    '%s: the virtual node selector and tolerations, the annotations, the limits',
    (provider, annotations) => {
      const pod = selftestPodManifest({ ...base, provider });
      expect(pod.metadata?.name).toBe('anex-selftest-0a1b2c3d');
      expect(pod.metadata?.labels).toEqual({ [SELFTEST_POD_LABEL]: 'true' });
      expect(pod.metadata?.annotations).toEqual(annotations);
      expect(pod.spec?.nodeSelector).toEqual({ 'node-provider': provider });
      // Every taint of the virtual node (lib/kube/virtual-node.ts) is tolerated, exactly.
      expect(pod.spec?.tolerations).toEqual(
        requiredTaints(provider).map((t) => ({
          key: t.key,
          operator: 'Equal',
          value: t.value,
          effect: t.effect,
        })),
      );
      expect(pod.spec?.restartPolicy).toBe('Never');
      expect(pod.spec?.activeDeadlineSeconds).toBe(960);
      const [container, ...others] = pod.spec?.containers ?? [];
      expect(others).toEqual([]);
      expect(container?.image).toBe('busybox:1.36');
      expect(container?.command).toEqual(markerCommand());
      expect(container?.env).toEqual([{ name: MARKER_NONCE_ENV, value: 'n0nce' }]);
      // The marker line is made by the shell: the nonce is only in the env.
      expect(JSON.stringify(container?.command)).not.toContain('n0nce');
    },
  );

  it.each([
    [0.0123, '0.0123'],
    [4.2857, '4.2857'],
    [2, '2.0000'],
  ])('price ceiling %s is written as %s', (ceiling, text) => {
    const pod = selftestPodManifest({ ...base, provider: 'vastai', ceilingPerHour: ceiling });
    expect(pod.metadata?.annotations?.[PRICE_MAX_KEY]).toBe(text);
  });

  it('is named anex-selftest-<8 hex>', () => {
    expect(newSelftestPodName()).toMatch(/^anex-selftest-[0-9a-f]{8}$/);
    expect(newSelftestPodName(() => Buffer.from([0xde, 0xad, 0xbe, 0xef]))).toBe('anex-selftest-deadbeef');
  });
});

describe('a pod the stack holds', () => {
  const condition = (reason: string, status = 'False') => ({
    status: { conditions: [{ type: 'anex.sh/Provisioned', status, reason, message: `${reason} says why` }] },
  });

  it.each([
    ['NamespaceNotEnabled', 'False', 'NamespaceNotEnabled: NamespaceNotEnabled says why'],
    ['SpendLimit', 'False', 'SpendLimit: SpendLimit says why'],
    ['GpuLimitExceeded', 'False', 'GpuLimitExceeded: GpuLimitExceeded says why'],
    ['NoMatchingOffers', 'False', undefined],
    ['Provisioning', 'False', undefined],
    ['InstanceRunning', 'True', undefined],
  ])('%s (%s) → %s', (reason, status, held) => {
    expect(heldCondition(condition(reason, status))).toBe(held);
  });
});

describe('the endpoint probe', () => {
  /** A real HTTP server on loopback answering every request with `status`, `type` and `body`. */
  async function serve(status: number, type: string, body: string): Promise<{ url: string; close(): void }> {
    const server = createServer((_request, response) => {
      response.writeHead(status, { 'content-type': type }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, close: () => server.close() };
  }

  it.each([
    [
      400,
      '{"error":"query parameter podUid must be a pod UID"}',
      /^GET \/v1\/pod-alive answered HTTP 400 "query parameter podUid must be a pod UID"/,
    ],
    [
      401,
      '{"error":"missing or wrong status credential"}',
      /answered HTTP 401 "missing or wrong status credential"/,
    ],
    [503, '{"error":"temporarily unavailable; retry later"}', /answered HTTP 503/],
  ])('any answer of the handler passes: HTTP %s', async (status, body, message) => {
    const server = await serve(status, 'application/json', body);
    try {
      await expect(probeAgentEndpoint(server.url)).resolves.toMatch(message);
    } finally {
      server.close();
    }
  });

  it.each([
    [404, 'text/html', '<html>Not Found</html>'],
    [200, 'application/json', '{"ok":true}'],
  ])(
    'an answer of something else (HTTP %s %s) fails, naming the stack output',
    async (status, type, body) => {
      const server = await serve(status, type, body);
      try {
        await expect(probeAgentEndpoint(server.url)).rejects.toThrow(
          new RegExp(
            `answered HTTP ${status} \\(${type}\\) that is not the anex agent endpoint's: pass the stack output AgentUrl`,
          ),
        );
      } finally {
        server.close();
      }
    },
  );

  it('a refused connection fails with the cause, nothing created', async () => {
    const server = await serve(400, 'application/json', '{}');
    server.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(probeAgentEndpoint(server.url)).rejects.toThrow(
      /GET http:\/\/127\.0\.0\.1:\d+\/v1\/pod-alive failed: ECONNREFUSED .*; nothing was created/,
    );
  });
});
