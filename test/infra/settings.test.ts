import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { parseSettings, stackPropsFrom } from '../../infra/settings.ts';
import { invalidInputIssues } from '../support/invalid-input.ts';

function issuesOf(context: Record<string, unknown>): readonly string[] {
  return invalidInputIssues(() => parseSettings(context));
}

describe('parseSettings', () => {
  it('leaves everything to the documented defaults when no anex: key is set', () => {
    expect(stackPropsFrom(parseSettings({ '@aws-cdk/core:newStyleStackSynthesis': true }))).toEqual({});
  });

  it.each([
    [{ 'anex:tickMemorySize': '192' }, { tickMemorySize: 192 }],
    [{ 'anex:tickTimeoutSeconds': 90 }, { tickTimeout: Duration.seconds(90) }],
    [{ 'anex:retainTable': 'false' }, { tableRemovalPolicy: RemovalPolicy.DESTROY }],
    [{ 'anex:retainTable': true }, {}],
    [{ 'anex:scheduleEnabled': 'false' }, { scheduleEnabled: false }],
    [{ 'anex:logRetentionDays': '7' }, { logRetention: 7 }],
    [{ 'anex:tickReservedConcurrency': '0' }, { tickReservedConcurrency: 0 }],
    [{ 'anex:publicReservedConcurrency': '0' }, { publicReservedConcurrency: 0 }],
    [{ 'anex:publicReservedConcurrency': 50 }, { publicReservedConcurrency: 50 }],
    [{ 'anex:environment': '{"ANEX_PROVIDERS":"vastai"}' }, { environment: { ANEX_PROVIDERS: 'vastai' } }],
    [{ 'anex:environment': { ANEX_CLUSTER_ID: 'prod' } }, { environment: { ANEX_CLUSTER_ID: 'prod' } }],
    [{ 'anex:credentialsRevision': 2 }, { credentialsRevision: '2' }],
    [
      { 'anex:environment': '{"ANEX_GATEWAY_UDP_ENDPOINT":"gw.example:51820"}' },
      { environment: { ANEX_GATEWAY_UDP_ENDPOINT: 'gw.example:51820' } },
    ],
    [
      { 'anex:environment': '{"VAST_API_URL":"https://vast-proxy.example"}' },
      { environment: { VAST_API_URL: 'https://vast-proxy.example' } },
    ],
    // forwarder pods (ADR 0024): the gateway's namespace and image, given to every function
    [
      {
        'anex:environment': {
          ANEX_FORWARDER_NAMESPACE: 'anex-system',
          ANEX_FORWARDER_IMAGE: 'ghcr.io/o/gw:1',
        },
      },
      { environment: { ANEX_FORWARDER_NAMESPACE: 'anex-system', ANEX_FORWARDER_IMAGE: 'ghcr.io/o/gw:1' } },
    ],
  ])('maps %j (command-line strings or JSON values) to %j', (context, expected) => {
    const props = stackPropsFrom(parseSettings(context));
    expect(JSON.stringify(props)).toEqual(JSON.stringify(expected));
  });

  it.each([
    [{ 'anex:tickMemorySize': 'lots' }, /anex:tickMemorySize: .*; value: "lots"/],
    [{ 'anex:tickMemorySize': '64' }, /anex:tickMemorySize: .*128.*; value: "64"/],
    [{ 'anex:logRetentionDays': '10' }, /anex:logRetentionDays: must be one of .*14.*; value: "10"/],
    [{ 'anex:retainTable': 'yes' }, /anex:retainTable: .*; value: "yes"/],
    [{ 'anex:publicReservedConcurrency': '-1' }, /anex:publicReservedConcurrency: .*0.*; value: "-1"/],
    [{ 'anex:publicReservedConcurrency': 'ten' }, /anex:publicReservedConcurrency: .*; value: "ten"/],
    [{ 'anex:tickMemorysize': '192' }, /context: .*\(anex:tickMemorysize\)/],
    [
      { 'anex:alarmTopicArn': 'ops-topic' },
      /anex:alarmTopicArn: must be an SNS topic ARN; value: "ops-topic"/,
    ],
    [
      { 'anex:environment': '{"RUNPOD_API_KEY":"rp-1"}' },
      /anex:environment: RUNPOD_API_KEY is a secret: put it in the stack's secret/,
    ],
    [
      { 'anex:environment': '{"ANEX_VASTAI_BASE_URL":"https://x"}' },
      /ANEX_VASTAI_BASE_URL is not an anex setting/,
    ],
    [
      { 'anex:environment': '{"ANEX_MAX_ATTEMPTS":"lots"}' },
      /ANEX_MAX_ATTEMPTS: "lots" is not a whole number from 1 to 50/,
    ],
    [
      { 'anex:environment': '{"ANEX_GATEWAY_PUBLIC_KEY":"nope"}' },
      /ANEX_GATEWAY_PUBLIC_KEY="nope": expected the gateway WireGuard public key/,
    ],
    [
      { 'anex:environment': '{"VAST_API_URL":"http://proxy.example"}' },
      /VAST_API_URL: "http:\/\/proxy.example" is not an https URL/,
    ],
    [
      { 'anex:environment': '{"ANEX_FORWARDER_NAMESPACE":"anex-system"}' },
      /ANEX_FORWARDER_IMAGE is missing: ANEX_FORWARDER_NAMESPACE and ANEX_FORWARDER_IMAGE go together/,
    ],
  ])('rejects %j naming the key, the value and the accepted form', (context, message) => {
    expect(issuesOf(context).join('\n')).toMatch(message);
  });

  it.each([{ VAST_API_KEY: 'vast-secret-1' }, '{"VAST_API_KEY":"vast-secret-1"}'])(
    'never echoes a secret pasted into the environment (%j)',
    (environment) => {
      const [issue] = issuesOf({ 'anex:environment': environment });
      expect(issue).toContain('VAST_API_KEY is a secret');
      expect(issue).toContain('value: an object with VAST_API_KEY');
      expect(issue).not.toContain('vast-secret-1');
    },
  );

  it('reports every bad key at once', () => {
    expect(issuesOf({ 'anex:tickMemorySize': 'x', 'anex:logLevel': 'LOUD' })).toHaveLength(2);
  });
});
