import { CommanderError, InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { kubeletListenFlag, kubeletPlan } from '../../../lib/cli/commands/run.ts';
import { buildProgram } from '../../../lib/cli/main.ts';
import { InvalidInputError } from '../../../lib/errors.ts';

const LOCAL = 'https://127.0.0.1:6443';
const REMOTE = 'https://k8s.example.com:6443';
const ENV = { KUBECONFIG: '/k/config' };

describe('kubeletPlan (anex run)', () => {
  it.each([
    [
      'serves on loopback by default when the API server is on this host',
      { kubelet: true },
      { agentEndpoint: true, server: LOCAL },
      { kind: 'serve', listen: { ip: '127.0.0.1', port: 0 }, kubeconfig: '/k/config' },
    ],
    [
      'localhost is this host too',
      { kubelet: true },
      { agentEndpoint: true, server: 'https://localhost:6443' },
      { kind: 'serve', listen: { ip: '127.0.0.1', port: 0 }, kubeconfig: '/k/config' },
    ],
    [
      '--kubelet-listen serves there, wherever the API server is',
      { kubelet: true, kubeletListen: { ip: '10.0.0.5', port: 10250 } },
      { agentEndpoint: true, server: REMOTE },
      { kind: 'serve', listen: { ip: '10.0.0.5', port: 10250 }, kubeconfig: '/k/config' },
    ],
    [
      '--kubeconfig is the file anex-kubelet reads',
      { kubelet: true, kubeconfig: '/other/config' },
      { agentEndpoint: true, server: LOCAL },
      { kind: 'serve', listen: { ip: '127.0.0.1', port: 0 }, kubeconfig: '/other/config' },
    ],
    [
      '--kubelet-address advertises a hand-started one',
      { kubelet: true, kubeletAddress: { ip: '10.0.0.9', port: 10250 } },
      { agentEndpoint: false, server: REMOTE },
      { kind: 'advertise', address: { ip: '10.0.0.9', port: 10250 } },
    ],
    [
      '--no-kubelet serves none',
      { kubelet: false },
      { agentEndpoint: true, server: LOCAL },
      { kind: 'off', why: 'not served (--no-kubelet): kubectl logs and exec on anex pods fail' },
    ],
    [
      'no agent endpoint: none, saying why',
      { kubelet: true },
      { agentEndpoint: false, server: LOCAL },
      {
        kind: 'off',
        why: expect.stringMatching(
          /^not served: there is no agent endpoint \(--simulate or --agent-endpoint-url/,
        ),
      },
    ],
    [
      'a remote API server cannot reach loopback: none, naming --kubelet-listen',
      { kubelet: true },
      { agentEndpoint: true, server: REMOTE },
      {
        kind: 'off',
        why: `not served: the API server (${REMOTE}) is not on this host, so it cannot reach 127.0.0.1; pass --kubelet-listen <ip:port> with an address of this host it reaches (or --no-kubelet)`,
      },
    ],
  ])('%s', (_name, flags, context, plan) => {
    const result = kubeletPlan(flags, {
      agentEndpoint: context.agentEndpoint,
      env: ENV,
      apiServer: () => context.server,
    });
    expect(result).toEqual(plan);
  });

  it('several kubeconfig files: none by default, a usage error with --kubelet-listen', () => {
    const context = { agentEndpoint: true, env: { KUBECONFIG: '/a:/b' }, apiServer: () => LOCAL };
    expect(kubeletPlan({ kubelet: true }, context)).toEqual({
      kind: 'off',
      why: 'not served: $KUBECONFIG lists several files and anex-kubelet reads one: pass --kubeconfig <file>',
    });
    expect(() =>
      kubeletPlan({ kubelet: true, kubeletListen: { ip: '127.0.0.1', port: 0 } }, context),
    ).toThrow(InvalidInputError);
  });

  it('--kubelet-listen without an agent endpoint is a usage error naming the flag', () => {
    const plan = () =>
      kubeletPlan(
        { kubelet: true, kubeletListen: { ip: '127.0.0.1', port: 0 } },
        { agentEndpoint: false, env: ENV, apiServer: () => LOCAL },
      );
    expect(plan).toThrow(InvalidInputError);
    expect(plan).toThrow(/^--kubelet-listen: there is no agent endpoint/);
  });

  it('reads the API server only when it decides by it', () => {
    let reads = 0;
    const apiServer = () => {
      reads += 1;
      return LOCAL;
    };
    kubeletPlan({ kubelet: false }, { agentEndpoint: true, env: ENV, apiServer });
    kubeletPlan({ kubelet: true }, { agentEndpoint: false, env: ENV, apiServer });
    kubeletPlan(
      { kubelet: true, kubeletListen: { ip: '10.0.0.5', port: 1 } },
      { agentEndpoint: true, env: ENV, apiServer },
    );
    expect(reads).toBe(0);
  });
});

describe('kubeletListenFlag (--kubelet-listen)', () => {
  it.each([
    ['127.0.0.1:0', { ip: '127.0.0.1', port: 0 }],
    ['10.0.0.5:10250', { ip: '10.0.0.5', port: 10250 }],
    [' 192.168.1.2:65535 ', { ip: '192.168.1.2', port: 65535 }],
  ])('%j', (text, address) => {
    expect(kubeletListenFlag(text)).toEqual(address);
  });

  it.each([
    ['10250', /is not <ipv4>:<port> \(port 0-65535, 0 = a free one\)/],
    ['host:10250', /is not <ipv4>:<port>/],
    ['10.0.0.5:65536', /is not <ipv4>:<port>/],
    ['10.0.0.256:1', /is not <ipv4>:<port>/],
    ['[::1]:10250', /is not <ipv4>:<port>/],
    ['0.0.0.0:10250', /must be one the API server reaches, not 0\.0\.0\.0/],
  ])('refuses %j', (text, message) => {
    expect(() => kubeletListenFlag(text)).toThrow(InvalidArgumentError);
    expect(() => kubeletListenFlag(text)).toThrow(message);
  });
});

/** Parses `anex run <args>` without running it: only usage errors get this far. */
async function usageError(args: readonly string[]): Promise<{ error: unknown; stderr: string }> {
  const program = buildProgram();
  let stderr = '';
  program.configureOutput({ writeErr: (text) => (stderr += text), writeOut: () => undefined });
  for (const command of program.commands) {
    command.configureOutput({ writeErr: (text) => (stderr += text), writeOut: () => undefined });
  }
  try {
    await program.parseAsync(['run', ...args], { from: 'user' });
    return { error: undefined, stderr };
  } catch (error) {
    return { error, stderr };
  }
}

describe('anex run kubelet flags (usage errors)', () => {
  it.each([
    [
      '--kubelet-address with --kubelet-listen',
      ['--kubelet-address', '10.0.0.9:10250', '--kubelet-listen', '127.0.0.1:0'],
      "option '--kubelet-address <ip:port>' cannot be used with option '--kubelet-listen <ip:port>'",
    ],
    [
      '--no-kubelet with --kubelet-listen',
      ['--no-kubelet', '--kubelet-listen', '127.0.0.1:0'],
      "option '--no-kubelet' cannot be used with option '--kubelet-listen <ip:port>'",
    ],
    [
      'a wildcard --kubelet-listen',
      ['--kubelet-listen', '0.0.0.0:10250'],
      'must be one the API server reaches, not 0.0.0.0',
    ],
    ['a malformed --kubelet-address', ['--kubelet-address', 'node:10250'], 'is not <ipv4>:<port>'],
  ])('%s', async (_name, args, message) => {
    const { error, stderr } = await usageError(args);
    expect(error).toBeInstanceOf(CommanderError);
    expect((error as CommanderError).exitCode).not.toBe(0);
    expect(stderr).toContain(message);
  });
});
