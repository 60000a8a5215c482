import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * anex-kubelet's Go module (lib/tunnel/gateway/kubelet, ADR 0023): the Go checks CI runs on
 * it (gofmt, go vet, its Go tests: the auth matrix over real TLS, exec and port-forward end to
 * end with client-go, logs live and from the saved tail), and its build script's static,
 * cached binary, as `anex run` and the gateway image use it.
 */
const run = promisify(execFile);
const MODULE = fileURLToPath(new URL('../../../lib/tunnel/gateway/kubelet', import.meta.url));

describe('anex-kubelet', () => {
  it('is gofmt-clean and passes go vet', async () => {
    const { stdout: unformatted } = await run('gofmt', ['-l', '.'], { cwd: MODULE });
    expect(unformatted).toBe('');
    await run('go', ['vet', './...'], { cwd: MODULE, timeout: 600_000 });
  });

  it('passes its Go tests (auth matrix, exec over SPDY and WebSocket, port-forward, logs)', async () => {
    const { stdout } = await run('go', ['test', '-count=1', './...'], { cwd: MODULE, timeout: 600_000 });
    expect(stdout).toMatch(/^ok\s+anex\.local\/kubelet\/internal\/kubelet\s/m);
  });

  it('build.sh builds a static binary once and reuses it', async () => {
    const first = await run('bash', [join(MODULE, 'build.sh')], { timeout: 900_000 });
    const dir = first.stdout.trim().split('\n').at(-1) ?? '';
    const binary = join(dir, 'anex-kubelet');
    expect(existsSync(binary)).toBe(true);
    const { stdout: info } = await run('go', ['version', '-m', binary]);
    expect(info).toContain('CGO_ENABLED=0');
    expect(info).toContain('-trimpath=true');
    expect(info).toMatch(/dep\s+k8s\.io\/cri-streaming\s+v0\.37\.2/);
    const { stdout: version } = await run(binary, ['--version']);
    expect(version).toMatch(/^anex-kubelet \d+\n$/);
    const second = await run('bash', [join(MODULE, 'build.sh')]);
    expect(second.stdout.trim().split('\n').at(-1)).toBe(dir);
    expect(second.stderr).toContain('cached at');
  });
});
