import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_RESTART_POLICY,
  type KubeletChild,
  type KubeletLauncher,
  kubeconfigFile,
  kubeletArgs,
  loopbackUrl,
  type RestartPolicy,
  restartDelay,
  startKubeletProcess,
} from '../../../lib/local/kubelet-process.ts';

const TOKEN = 'x'.repeat(43);
const ADDRESS = { ip: '127.0.0.1', port: 41000 };
const FAST: RestartPolicy = { maxRestarts: 2, initialDelayMs: 1, maxDelayMs: 4, stableMs: 60_000 };

describe('restartDelay', () => {
  it.each([
    ['first restart waits the initial delay', DEFAULT_RESTART_POLICY, 1, 1_000],
    ['each restart doubles it', DEFAULT_RESTART_POLICY, 3, 4_000],
    ['the last allowed restart', DEFAULT_RESTART_POLICY, 5, 16_000],
    ['one past the limit: give up', DEFAULT_RESTART_POLICY, 6, undefined],
    ['capped at the maximum', { ...DEFAULT_RESTART_POLICY, maxRestarts: 10 }, 8, 30_000],
    ['restart 0 is not a restart', DEFAULT_RESTART_POLICY, 0, undefined],
  ])('%s', (_name, policy, restart, delay) => {
    expect(restartDelay(policy, restart)).toBe(delay);
  });
});

describe('kubeletArgs', () => {
  it('passes the token as a file name only, and listens and advertises one address', () => {
    const args = kubeletArgs({
      kubeconfig: '/k/config',
      agentUrl: 'http://127.0.0.1:8787',
      tokenFile: '/d/peers-token',
      address: { ip: '10.0.0.5', port: 10250 },
    });
    expect(args).toEqual([
      '--kubeconfig=/k/config',
      '--agent-url=http://127.0.0.1:8787',
      '--peers-token-file=/d/peers-token',
      '--listen=10.0.0.5:10250',
      '--advertise-address=10.0.0.5',
    ]);
  });
});

describe('kubeconfigFile', () => {
  it.each([
    ['the given file, made absolute', 'k.yaml', {}, join(process.cwd(), 'k.yaml')],
    ['one file in $KUBECONFIG', undefined, { KUBECONFIG: '/a/config' }, '/a/config'],
    ['~/.kube/config without $KUBECONFIG', undefined, {}, '/home/u/.kube/config'],
    ['an empty $KUBECONFIG is unset', undefined, { KUBECONFIG: '' }, '/home/u/.kube/config'],
    ['several files: none (anex-kubelet reads one)', undefined, { KUBECONFIG: '/a:/b' }, undefined],
    ['the given file wins over several', '/c', { KUBECONFIG: '/a:/b' }, '/c'],
  ])('%s', (_name, explicit, env, file) => {
    expect(kubeconfigFile(explicit, env, '/home/u')).toBe(file);
  });
});

describe('loopbackUrl', () => {
  it.each([
    ['http://127.0.0.1:8787', 'http://127.0.0.1:8787'],
    ['http://0.0.0.0:8787', 'http://127.0.0.1:8787'],
    ['http://localhost:8787', 'http://127.0.0.1:8787'],
    ['http://10.0.0.5:8787', 'http://10.0.0.5:8787'],
  ])('%s → %s', (url, expected) => {
    expect(loopbackUrl(url)).toBe(expected);
  });
});

/** A run the test ends by hand. */
interface FakeChild extends KubeletChild {
  exit(code: number): void;
}

function aChild(): FakeChild {
  let exit: (how: { code: number | null; signal: NodeJS.Signals | null }) => void = () => undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    exit = resolve;
  });
  return { exited, logTail: () => 'level=ERROR msg=boom', exit: (code) => exit({ code, signal: null }) };
}

/** Children in memory; `healthy` answers as `health` says for the newest one. */
function aLauncher(health: (run: number) => boolean = () => true) {
  const dir = mkdtempSync(join(tmpdir(), 'anex-kubelet-unit-'));
  const children: FakeChild[] = [];
  const spawned: (readonly string[])[] = [];
  let closed = false;
  const launcher: KubeletLauncher = {
    dir,
    logPath: join(dir, 'anex-kubelet.log'),
    spawn(args) {
      spawned.push(args);
      const child = aChild();
      children.push(child);
      return child;
    },
    healthy: async () => health(children.length),
    async close() {
      closed = true;
      for (const child of children) child.exit(143);
    },
  };
  return { launcher, children, spawned, dir, isClosed: () => closed };
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function start(fake: ReturnType<typeof aLauncher>, lines: string[], restart: RestartPolicy = FAST) {
  dirs.push(fake.dir);
  return startKubeletProcess({
    launcher: fake.launcher,
    kubeconfig: '/k/config',
    agentUrl: 'http://127.0.0.1:8787',
    token: TOKEN,
    address: ADDRESS,
    log: (line) => lines.push(line),
    restart,
    healthTimeoutMs: 200,
    healthIntervalMs: 1,
  });
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i += 1) await new Promise((r) => setTimeout(r, 2));
  expect(condition()).toBe(true);
}

describe('startKubeletProcess', () => {
  it('writes the token to a 0600 file, waits for /healthz, and never logs the token', async () => {
    const fake = aLauncher();
    const lines: string[] = [];
    const served = await start(fake, lines);
    const tokenFile = join(fake.dir, 'peers-token');
    expect(readFileSync(tokenFile, 'utf8')).toBe(TOKEN);
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(fake.spawned[0]).toContain(`--peers-token-file=${tokenFile}`);
    expect(fake.spawned.flat().join(' ')).not.toContain(TOKEN);
    expect(served.address).toEqual(ADDRESS);
    await served.stop();
    expect(fake.isClosed()).toBe(true);
    expect(lines).toEqual([]);
  });

  it.each([
    [
      'exits before /healthz',
      () => false,
      true,
      /exited \(code 1\) before answering \/healthz on 127\.0\.0\.1:41000/,
    ],
    [
      'never answers /healthz',
      () => false,
      false,
      /did not answer \/healthz on 127\.0\.0\.1:41000 within 0\.2 s/,
    ],
  ])('fails the start when it %s, and cleans up', async (_name, health, exits, message) => {
    const fake = aLauncher(health);
    const starting = start(fake, []);
    if (exits) fake.children[0]?.exit(1);
    await expect(starting).rejects.toThrow(message);
    expect(fake.isClosed()).toBe(true);
  });

  it('restarts it when it dies, with a line each time, and gives up after the policy allows', async () => {
    const fake = aLauncher();
    const lines: string[] = [];
    const served = await start(fake, lines);
    fake.children[0]?.exit(2);
    await until(() => fake.children.length === 2);
    await until(() => lines.some((l) => l.startsWith('anex-kubelet is serving again')));
    fake.children[1]?.exit(2);
    await until(() => fake.children.length === 3);
    fake.children[2]?.exit(2);
    await until(() => lines.some((l) => l.includes('not restarting it')));
    expect(
      lines.filter((l) => l.includes('restarting it in')).map((l) => /\(restart \d of 2\)/.exec(l)?.[0]),
    ).toEqual(['(restart 1 of 2)', '(restart 2 of 2)']);
    expect(lines.at(-1)).toMatch(
      /^anex-kubelet exited \(code 2\) after \d+\.\d s; not restarting it after 2 restarts: kubectl logs and exec on anex pods fail until this process is restarted\. Its last lines:\n {2}level=ERROR msg=boom$/,
    );
    expect(fake.children).toHaveLength(3);
    expect(lines.join('\n')).not.toContain(TOKEN);
    await served.stop();
  });

  it('does not restart it after stop', async () => {
    const fake = aLauncher();
    const lines: string[] = [];
    const served = await start(fake, lines);
    await served.stop();
    await new Promise((r) => setTimeout(r, 20));
    expect(fake.children).toHaveLength(1);
    expect(lines).toEqual([]);
  });

  it('a long quiet run starts the count afresh', async () => {
    const fake = aLauncher();
    const lines: string[] = [];
    const served = await start(fake, lines, { ...FAST, maxRestarts: 1, stableMs: 0 });
    for (let run = 0; run < 3; run += 1) {
      fake.children[run]?.exit(1);
      await until(() => fake.children.length === run + 2);
    }
    expect(lines.filter((l) => l.includes('(restart 1 of 1)'))).toHaveLength(3);
    await served.stop();
  });
});
