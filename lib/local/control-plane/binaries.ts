import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ControlPlaneError } from './errors.ts';

/** Absolute paths of the control-plane binaries. */
export interface ControlPlaneBinaries {
  kubeApiserver: string;
  kubeScheduler: string;
  kubeControllerManager: string;
  etcd: string;
}

const BUILD_SCRIPT = fileURLToPath(new URL('./build/build.sh', import.meta.url));
const KEYS: Record<string, keyof ControlPlaneBinaries> = {
  'kube-apiserver': 'kubeApiserver',
  'kube-scheduler': 'kubeScheduler',
  'kube-controller-manager': 'kubeControllerManager',
  etcd: 'etcd',
};

/**
 * Runs build/build.sh (next to this file), which reuses cached binaries (or KUBEBUILDER_ASSETS /
 * TEST_ASSET_*) and builds the missing ones from the Go module proxy. Its progress is
 * streamed to our stderr so a first (long) build is visible; failure names the part.
 */
export async function ensureBinaries(): Promise<ControlPlaneBinaries> {
  const { code, stdout, stderrTail } = await runBuildScript();
  if (code !== 0) {
    throw new ControlPlaneError(
      'control-plane binaries',
      `${BUILD_SCRIPT} exited with ${code}:\n${stderrTail}`,
    );
  }
  return parseBuildOutput(stdout);
}

/** Parses build.sh's `<name>=<path>` lines; exported for unit tests of the format. */
export function parseBuildOutput(stdout: string): ControlPlaneBinaries {
  const found: Partial<ControlPlaneBinaries> = {};
  for (const line of stdout.split('\n')) {
    const at = line.indexOf('=');
    const key = KEYS[line.slice(0, at)];
    if (at > 0 && key !== undefined) found[key] = line.slice(at + 1);
  }
  const missing = Object.keys(KEYS).filter(
    (name) => found[KEYS[name] as keyof ControlPlaneBinaries] === undefined,
  );
  if (missing.length > 0) {
    throw new ControlPlaneError('control-plane binaries', `build.sh did not report ${missing.join(', ')}`);
  }
  return found as ControlPlaneBinaries;
}

function runBuildScript(): Promise<{ code: number | null; stdout: string; stderrTail: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4_000);
      process.stderr.write(chunk);
    });
    child.on('error', (error) =>
      reject(
        new ControlPlaneError('control-plane binaries', `cannot run bash ${BUILD_SCRIPT}`, { cause: error }),
      ),
    );
    child.on('close', (code) =>
      resolve({ code, stdout, stderrTail: stderr.trimEnd().split('\n').slice(-15).join('\n') }),
    );
  });
}
