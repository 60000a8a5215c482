import { inspect } from 'node:util';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  configFromFlags,
  flagAttribute,
  loadConfigFromEnv,
  reconcileConfig,
  virtualNodes,
} from '../../../lib/config/config.ts';
import { formatDuration, parseDuration } from '../../../lib/config/duration.ts';
import { addConfigOptions } from '../../../lib/config/options.ts';
import { loadSecretsFromEnv, requireApiKey, Secret } from '../../../lib/config/secrets.ts';
import { SETTINGS, type Setting } from '../../../lib/config/settings.ts';
import { DEFAULT_RECONCILE_CONFIG } from '../../../lib/reconcile/config.ts';
import { invalidInputIssues } from '../../support/invalid-input.ts';

const issuesOf = invalidInputIssues;

describe('loadConfigFromEnv', () => {
  it('gives the documented defaults for an empty environment', () => {
    expect(loadConfigFromEnv({})).toEqual({
      clusterId: 'default',
      providers: ['vastai', 'runpod'],
      nodeNames: { vastai: 'anex-vastai', runpod: 'anex-runpod' },
      banTimeoutMs: 6 * 3_600_000,
      startTimeoutMs: { vastai: 600_000, runpod: 1_200_000 },
      maxAttempts: 5,
      gcGraceMs: 600_000,
      createLagMs: 120_000,
      maxCandidatesPerPass: 10,
      podLeaseMs: 300_000,
      vpnRange: '10.99.0.0/16',
      defaultDiskGb: 20,
      heartbeatIntervalMs: 10_000,
      leaseDurationSeconds: 40,
      agentEndpointUrl: undefined,
      tableName: 'anex',
      providerBaseUrls: {},
      // ADR 0019: no namespace may rent until the operator enables one; no other limit by default
      spend: { rentNamespaces: [] },
    });
  });

  it('hands the reconciler its own documented defaults, with no namespace enabled for renting', () => {
    expect(reconcileConfig(loadConfigFromEnv({}))).toEqual({
      ...DEFAULT_RECONCILE_CONFIG,
      spend: { rentNamespaces: [] },
    });
  });

  it.each([
    ['ANEX_CLUSTER_ID', 'prod-eu', { clusterId: 'prod-eu' }],
    ['ANEX_PROVIDERS', ' runpod , ', { providers: ['runpod'] }],
    ['ANEX_NODE_NAME_RUNPOD', 'gpu.runpod', { nodeNames: { vastai: 'anex-vastai', runpod: 'gpu.runpod' } }],
    ['ANEX_BAN_TIMEOUT', '1h30m', { banTimeoutMs: 5_400_000 }],
    ['ANEX_START_TIMEOUT_VASTAI', '15m', { startTimeoutMs: { vastai: 900_000, runpod: 1_200_000 } }],
    ['ANEX_MAX_ATTEMPTS', '3', { maxAttempts: 3 }],
    ['ANEX_VPN_RANGE', '10.250.0.0/20', { vpnRange: '10.250.0.0/20' }],
    ['ANEX_DEFAULT_DISK_GB', '50', { defaultDiskGb: 50 }],
    ['ANEX_HEARTBEAT_INTERVAL', '5s', { heartbeatIntervalMs: 5_000 }],
    ['ANEX_LEASE_DURATION', '1m', { leaseDurationSeconds: 60 }],
    [
      'ANEX_AGENT_ENDPOINT_URL',
      'https://abc.lambda-url.eu-west-1.on.aws/',
      { agentEndpointUrl: 'https://abc.lambda-url.eu-west-1.on.aws' },
    ],
    ['ANEX_TABLE_NAME', 'anex-prod', { tableName: 'anex-prod' }],
    ['VAST_API_URL', 'http://127.0.0.1:8080', { providerBaseUrls: { vastai: 'http://127.0.0.1:8080' } }],
    ['RUNPOD_API_URL', 'https://proxy.example/', { providerBaseUrls: { runpod: 'https://proxy.example' } }],
  ])('reads %s=%j', (variable, value, expected) => {
    expect(loadConfigFromEnv({ [variable]: value })).toMatchObject(expected);
  });

  it.each([
    ['ANEX_CLUSTER_ID', 'Prod EU', 'lowercase letters'],
    ['ANEX_PROVIDERS', 'vastai,lambda', 'a comma list of vastai, runpod'],
    ['ANEX_NODE_NAME_VASTAI', 'Anex_Vast', 'a Kubernetes node name'],
    ['ANEX_BAN_TIMEOUT', '3600', 'a duration such as "45s"'],
    ['ANEX_BAN_TIMEOUT', '10s', 'from 1m to 30d'],
    ['ANEX_MAX_ATTEMPTS', '0', 'a whole number from 1 to 50'],
    ['ANEX_MAX_ATTEMPTS', '2.5', 'a whole number from 1 to 50'],
    ['ANEX_VPN_RANGE', '10.99.0.1/16', 'without host bits'],
    ['ANEX_LEASE_DURATION', '40500ms', 'whole seconds'],
    ['ANEX_AGENT_ENDPOINT_URL', 'http://example.com', 'an https URL'],
    ['ANEX_TABLE_NAME', 'a b', 'letters, digits'],
  ])('refuses %s=%j naming the variable, the value and the accepted form', (variable, value, form) => {
    const [issue, ...more] = issuesOf(() => loadConfigFromEnv({ [variable]: value }));
    expect(more).toEqual([]);
    expect(issue).toContain(variable);
    expect(issue).toContain(JSON.stringify(value));
    expect(issue).toContain(form);
  });

  it('reports every bad variable at once', () => {
    const issues = issuesOf(() => loadConfigFromEnv({ ANEX_MAX_ATTEMPTS: 'many', ANEX_GC_GRACE: 'soon' }));
    expect(issues.map((i) => i.split(':')[0])).toEqual(['ANEX_MAX_ATTEMPTS', 'ANEX_GC_GRACE']);
  });

  it.each([
    [{ ANEX_HEARTBEAT_INTERVAL: '20s', ANEX_LEASE_DURATION: '30s' }, 'at most half of ANEX_LEASE_DURATION'],
    [{ ANEX_NODE_NAME_RUNPOD: 'anex-vastai' }, 'must differ'],
  ])('checks settings against each other (%j)', (env, message) => {
    expect(issuesOf(() => loadConfigFromEnv(env))[0]).toContain(message);
  });

  it('turns forwarders on with a namespace and an image, the kubelet URL following the namespace (ADR 0024)', () => {
    const env = { ANEX_FORWARDER_NAMESPACE: 'anex-system', ANEX_FORWARDER_IMAGE: 'ghcr.io/anex/gateway:1.2' };
    const forwarding = {
      namespace: 'anex-system',
      image: 'ghcr.io/anex/gateway:1.2',
      kubeletUrl: 'https://anex-kubelet.anex-system.svc:10250',
      serviceAccount: 'anex-forwarder',
      audience: 'anex-kubelet',
    };
    expect(loadConfigFromEnv(env).forwarding).toEqual(forwarding);
    expect(reconcileConfig(loadConfigFromEnv(env)).forwarding).toEqual(forwarding);
    expect(
      loadConfigFromEnv({
        ...env,
        ANEX_FORWARDER_KUBELET_URL: 'https://kubelet.example:8443',
        ANEX_FORWARDER_SERVICE_ACCOUNT: 'fwd',
        ANEX_FORWARDER_AUDIENCE: 'anex-kubelet.prod',
      }).forwarding,
    ).toEqual({
      ...forwarding,
      kubeletUrl: 'https://kubelet.example:8443',
      serviceAccount: 'fwd',
      audience: 'anex-kubelet.prod',
    });
    expect(loadConfigFromEnv({}).forwarding).toBeUndefined();
    expect(reconcileConfig(loadConfigFromEnv({}))).not.toHaveProperty('forwarding');
  });

  it.each([
    [{ ANEX_FORWARDER_NAMESPACE: 'anex-system' }, 'ANEX_FORWARDER_IMAGE is missing'],
    [{ ANEX_FORWARDER_IMAGE: 'gw:1' }, 'ANEX_FORWARDER_NAMESPACE is missing'],
    [
      { ANEX_FORWARDER_KUBELET_URL: 'https://k:10250' },
      'ANEX_FORWARDER_KUBELET_URL needs ANEX_FORWARDER_NAMESPACE',
    ],
  ])('refuses half a forwarding setup (%j)', (env, message) => {
    expect(issuesOf(() => loadConfigFromEnv(env))).toEqual([expect.stringContaining(message)]);
  });

  it.each([
    ['ANEX_FORWARDER_NAMESPACE', 'Anex System', 'a Kubernetes namespace name'],
    ['ANEX_FORWARDER_IMAGE', 'gw 1', 'an image reference without spaces'],
    ['ANEX_FORWARDER_KUBELET_URL', 'http://localhost:10250', 'an https URL'],
    ['ANEX_FORWARDER_SERVICE_ACCOUNT', 'Fwd_SA', 'a ServiceAccount name'],
  ])('refuses %s=%j naming the forwarding field', (variable, value, form) => {
    const env = { ANEX_FORWARDER_NAMESPACE: 'anex-system', ANEX_FORWARDER_IMAGE: 'gw:1', [variable]: value };
    const [issue, ...more] = issuesOf(() => loadConfigFromEnv(env));
    expect(more).toEqual([]);
    expect(issue).toContain(variable);
    expect(issue).toContain(form);
  });

  it('allows equal node names when only one provider is enabled', () => {
    expect(
      loadConfigFromEnv({ ANEX_PROVIDERS: 'runpod', ANEX_NODE_NAME_RUNPOD: 'anex-vastai' }).providers,
    ).toEqual(['runpod']);
  });
});

describe('configFromFlags', () => {
  it('builds the same object as the environment from the same values', () => {
    const flags = {
      clusterId: 'lab',
      providers: 'vastai',
      banTimeout: '2h',
      table: 'anex-local',
    };
    const env = {
      ANEX_CLUSTER_ID: 'lab',
      ANEX_PROVIDERS: 'vastai',
      ANEX_BAN_TIMEOUT: '2h',
      ANEX_TABLE_NAME: 'anex-local',
    };
    expect(configFromFlags(flags)).toEqual(loadConfigFromEnv(env));
  });

  it('names the flag in errors', () => {
    expect(issuesOf(() => configFromFlags({ maxAttempts: 'lots' }))).toEqual([
      '--max-attempts: "lots" is not a whole number from 1 to 50',
    ]);
  });

  it('parses what commander collects from the registered options', () => {
    const command = addConfigOptions(new Command('run').exitOverride());
    command.parse(['--ban-timeout', '45m', '--providers', 'runpod', '--table', 'x-table'], { from: 'user' });
    const config = configFromFlags(command.opts());
    expect(config).toMatchObject({
      banTimeoutMs: 2_700_000,
      providers: ['runpod'],
      tableName: 'x-table',
      maxAttempts: 5,
    });
    expect(command.helpInformation()).toContain('--ban-timeout <value>');
    expect(command.helpInformation()).toContain('ANEX_BAN_TIMEOUT');
  });

  it('has one distinct flag and variable per setting', () => {
    const flags = SETTINGS.flatMap((s: Setting) => (s.flag === undefined ? [] : [flagAttribute(s.flag)]));
    expect(new Set(flags).size).toBe(flags.length);
    expect(new Set(SETTINGS.map((s) => s.env)).size).toBe(SETTINGS.length);
  });

  it('reads provider URLs from the environment only (no flag for them)', () => {
    const command = addConfigOptions(new Command('run'));
    expect(command.helpInformation()).not.toContain('VAST_API_URL');
    expect(configFromFlags({ vastaiBaseUrl: 'http://127.0.0.1:1' }).providerBaseUrls).toEqual({});
  });
});

describe('virtualNodes', () => {
  it('gives one node per enabled provider, with its configured name', () => {
    const nodes = virtualNodes(
      loadConfigFromEnv({ ANEX_PROVIDERS: 'runpod', ANEX_NODE_NAME_RUNPOD: 'gpu-rp' }),
    );
    expect(nodes.map((n) => [n.provider, n.name, n.labels['node-provider']])).toEqual([
      ['runpod', 'gpu-rp', 'runpod'],
    ]);
  });
});

describe('durations', () => {
  it.each([
    ['45s', 45_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['1.5h', 5_400_000],
    ['2d', 172_800_000],
    ['10', undefined],
    ['', undefined],
    ['5 m', undefined],
    ['-5m', undefined],
  ])('parses %j as %j ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    [5_400_000, '1h30m'],
    [0, '0s'],
    [1_500, '1s500ms'],
  ])('formats %d ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('secrets', () => {
  const env = {
    VAST_API_KEY: 'vast-key-123',
    ANEX_KUBECONFIG: 'apiVersion: v1\nkind: Config\nclusters: []\n',
  };

  it('loads keys and kubeconfig but never prints them', () => {
    const secrets = loadSecretsFromEnv(env);
    expect(requireApiKey(secrets, 'vastai').reveal()).toBe('vast-key-123');
    const printed = [
      JSON.stringify(secrets),
      `${secrets.apiKeys.vastai}`,
      inspect(secrets, { depth: 5 }),
    ].join('\n');
    expect(printed).not.toContain('vast-key-123');
    expect(printed).not.toContain('apiVersion');
    expect(printed).toContain('redacted');
  });

  it.each([
    [{ RUNPOD_API_KEY: 'abc def' }, 'RUNPOD_API_KEY: the API key contains whitespace'],
    [{ ANEX_KUBECONFIG: 'hello' }, 'ANEX_KUBECONFIG: not a kubeconfig document'],
  ])('refuses a malformed secret without echoing it (%#)', (bad, message) => {
    const [issue] = issuesOf(() => loadSecretsFromEnv(bad));
    expect(issue).toContain(message);
    expect(issue).not.toContain(Object.values(bad)[0]);
  });

  it('says which variable to set when a key is missing', () => {
    expect(() => requireApiKey(loadSecretsFromEnv({}), 'runpod')).toThrow('RUNPOD_API_KEY is not set');
  });

  it('wraps any value', () => {
    expect(String(new Secret('x'))).toBe('[redacted]');
  });
});
