import { chmodSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { SimImage } from '../common/images.ts';

/**
 * A simulated machine's stand-in for an image's filesystem: under `root`, every program the
 * image holds (lib/sim/common/images.ts `executables`) at its own path.
 *
 * - The usual tools of a Debian-based image (sh, curl, sha256sum, mktemp, …) are this host's
 *   own, linked in: the launch stub and the agent must meet real tools, not imitations.
 * - Anything else is a stand-in script. A program named `*entrypoint.sh` execs its arguments,
 *   as NVIDIA's does. Every other one (python, ollama, …) behaves like a long job: it prints
 *   what it was asked to run and keeps running until SIGTERM (exit 143), unless the container
 *   env says otherwise — `SIM_EXIT_AFTER=<seconds>` then exits with `SIM_EXIT_CODE` (default 0).
 *   So a launch handed to an ENTRYPOINT that ignores its arguments (vLLM) runs the "server"
 *   and never the agent, exactly as on the real provider.
 *
 * A tool this host lacks is left out, so the machine fails the way an image without it would.
 */
export function buildRootfs(root: string, image: SimImage, options: { hostTools: boolean }): void {
  mkdirSync(join(root, 'tmp'), { recursive: true, mode: 0o1777 });
  mkdirSync(join(root, 'root'), { recursive: true });
  if (image.workingDir !== undefined) mkdirSync(join(root, image.workingDir), { recursive: true });
  for (const program of image.executables) {
    const target = join(root, program);
    if (existsSync(target)) continue;
    mkdirSync(dirname(target), { recursive: true });
    const name = basename(program);
    if (HOST_TOOLS.has(name)) {
      // Namespaced machines see this host's / under their overlay: its tools are there already.
      if (!options.hostTools) continue;
      const host = hostProgram(name);
      if (host !== undefined) symlinkSync(host, target);
      continue;
    }
    writeFileSync(target, name.endsWith('entrypoint.sh') ? execArgsScript(name) : longJobScript(name));
    chmodSync(target, 0o755);
  }
}

/** Programs every machine takes from this host (all of them are in a Debian base image). */
const HOST_TOOLS = new Set([
  'sh',
  'bash',
  'env',
  'curl',
  'wget',
  'sha256sum',
  'sleep',
  'true',
  'cat',
  'chmod',
  'echo',
  'ls',
  'mkdir',
  'mktemp',
  'rm',
  'uname',
]);

const HOST_DIRS = ['/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin'];

function hostProgram(name: string): string | undefined {
  return HOST_DIRS.map((dir) => join(dir, name)).find((path) => existsSync(path));
}

function execArgsScript(name: string): string {
  return `#!/bin/sh\n# anex simulator: stand-in for ${name}, which execs its arguments\nexec "$@"\n`;
}

function longJobScript(name: string): string {
  return [
    '#!/bin/sh',
    `# anex simulator: stand-in for ${name}, a long job (SIM_EXIT_AFTER / SIM_EXIT_CODE end it)`,
    `echo "${name} (simulated) started: $*"`,
    `trap 'echo "${name} (simulated): terminated"; exit 143' TERM INT`,
    'n=0',
    `while [ -z "\${SIM_EXIT_AFTER:-}" ] || [ "$n" -lt "$SIM_EXIT_AFTER" ]; do sleep 1 & wait $!; n=$((n+1)); done`,
    `echo "${name} (simulated) finished with code \${SIM_EXIT_CODE:-0}"`,
    `exit "\${SIM_EXIT_CODE:-0}"`,
    '',
  ].join('\n');
}
