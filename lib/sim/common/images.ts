/**
 * The images the simulated marketplaces "have": each image's config (ENTRYPOINT, CMD, Env,
 * WorkingDir, architectures) and the programs its filesystem holds, so a simulated container
 * starts exactly as a real runtime would start it — or fails the way a real one fails. Values
 * follow the images' published configs where they are well known; the rest are stand-ins
 * used by tests and examples (marked so).
 *
 * An image not in this table cannot be pulled (stricter than accepting anything: a real
 * provider pulls from a registry, and a name nobody published fails there).
 */
export interface SimImage {
  /** normalized reference: registry host omitted for Docker Hub, `library/` omitted, tag explicit */
  ref: string;
  entrypoint?: readonly string[];
  cmd?: readonly string[];
  /** "K=V" entries, as in the image config */
  env: readonly string[];
  workingDir?: string;
  architectures: readonly ('amd64' | 'arm64')[];
  /** absolute paths of the programs the image holds (argv[0] lookups) */
  executables: readonly string[];
  /**
   * A private image: its registry wants this login (the simulated registry answers 401 without
   * it; a provider's pull fails without it, as a real `docker pull` does).
   */
  login?: { username: string; password: string };
  /** how the registry asks for `login`: the Docker token flow (default) or Basic on every request */
  auth?: 'bearer' | 'basic';
}

/** The login of the private stand-in image (tests use it as the pod's imagePullSecret). */
export const PRIVATE_IMAGE_LOGIN = { username: 'anex-e2e', password: 'registry-pass-5d1e9a' } as const;

const BASE_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** What every Debian/Ubuntu-based image below has: a shell and the usual tools, curl included. */
const DEBIAN = [
  '/bin/sh',
  '/bin/bash',
  '/usr/bin/env',
  '/usr/bin/curl',
  '/usr/bin/sha256sum',
  '/bin/sleep',
  '/bin/true',
  '/bin/cat',
  '/bin/chmod',
  '/bin/echo',
  '/bin/ls',
  '/bin/mkdir',
  '/bin/mktemp',
  '/bin/rm',
  '/bin/uname',
];
const PYTHON = ['/usr/bin/python', '/usr/bin/python3'];

export const SIM_IMAGES: readonly SimImage[] = [
  {
    // Docker Hub pytorch/pytorch: no ENTRYPOINT, conda's python first on PATH.
    ref: 'pytorch/pytorch:latest',
    env: [
      'PATH=/opt/conda/bin:/usr/local/nvidia/bin:/usr/local/cuda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'NVIDIA_VISIBLE_DEVICES=all',
    ],
    workingDir: '/workspace',
    architectures: ['amd64', 'arm64'],
    executables: [...DEBIAN, '/opt/conda/bin/python', '/opt/conda/bin/python3'],
  },
  {
    // vLLM's OpenAI server: an ENTRYPOINT that does not run its arguments (runpod audit #1).
    ref: 'vllm/vllm-openai:latest',
    entrypoint: ['python3', '-m', 'vllm.entrypoints.openai.api_server'],
    env: [BASE_PATH],
    architectures: ['amd64'],
    executables: [...DEBIAN, ...PYTHON],
  },
  {
    ref: 'ollama/ollama:latest',
    entrypoint: ['/bin/ollama'],
    cmd: ['serve'],
    env: [BASE_PATH, 'OLLAMA_HOST=0.0.0.0:11434'],
    architectures: ['amd64', 'arm64'],
    executables: [...DEBIAN, '/bin/ollama'],
  },
  {
    // NVIDIA's CUDA images: an entrypoint script that execs its arguments.
    ref: 'nvidia/cuda:12.4.1-runtime-ubuntu22.04',
    entrypoint: ['/opt/nvidia/nvidia_entrypoint.sh'],
    env: [BASE_PATH, 'CUDA_VERSION=12.4.1'],
    architectures: ['amd64', 'arm64'],
    executables: [...DEBIAN, '/opt/nvidia/nvidia_entrypoint.sh'],
  },
  {
    // Stand-in: the trainer image of the tests (CMD runs the training script).
    ref: 'ghcr.io/example/trainer:1',
    cmd: ['python', 'train.py'],
    env: [BASE_PATH],
    workingDir: '/app',
    architectures: ['amd64'],
    executables: [...DEBIAN, ...PYTHON],
  },
  {
    // Stand-in: the job image of the provider tests.
    ref: 'ghcr.io/acme/job:1.2',
    cmd: ['/bin/sh'],
    env: [BASE_PATH],
    architectures: ['amd64'],
    executables: [...DEBIAN, ...PYTHON],
  },
  {
    // Stand-in: a tag published for arm64 only (GH200-class hosts); exec format error on amd64.
    ref: 'ghcr.io/example/arm-only:1',
    cmd: ['python', 'serve.py'],
    env: [BASE_PATH],
    architectures: ['arm64'],
    executables: [...DEBIAN, ...PYTHON],
  },
  {
    // Stand-in: a name holding an error-looking word, which Vast's status messages embed
    // ("success, running org/failed-jobs/args"; vast audit #16).
    ref: 'org/failed-jobs:latest',
    cmd: ['python', 'run.py'],
    env: [BASE_PATH],
    architectures: ['amd64'],
    executables: [...DEBIAN, ...PYTHON],
  },
  {
    // Stand-in: a private image (its registry asks for a login; imagePullSecrets give it).
    ref: 'ghcr.io/example/private-trainer:1',
    cmd: ['python', 'train.py'],
    env: [BASE_PATH],
    workingDir: '/app',
    architectures: ['amd64'],
    executables: [...DEBIAN, ...PYTHON],
    login: PRIVATE_IMAGE_LOGIN,
  },
  {
    // Stand-in: a private image on a self-hosted registry that asks for Basic auth (htpasswd).
    ref: 'registry.example.com/team/private-basic:1',
    cmd: ['python', 'serve.py'],
    env: [BASE_PATH],
    workingDir: '/srv',
    architectures: ['amd64'],
    executables: [...DEBIAN, ...PYTHON],
    login: PRIVATE_IMAGE_LOGIN,
    auth: 'basic',
  },
  {
    // Docker Hub busybox (config: no ENTRYPOINT, CMD ["sh"]; every applet under /bin): the tiny
    // public image `anex selftest` rents with (lib/selftest).
    ref: 'busybox:1.36',
    cmd: ['sh'],
    env: [BASE_PATH],
    architectures: ['amd64', 'arm64'],
    executables: ['/bin/sh', '/bin/echo', '/bin/sleep', '/bin/cat', '/bin/true', '/bin/env', '/bin/ls'],
  },
  {
    // Stand-in: no ENTRYPOINT, no CMD (a data-only image): a container needs a command.
    ref: 'ghcr.io/example/no-command:1',
    env: [BASE_PATH],
    architectures: ['amd64'],
    executables: [...DEBIAN],
  },
];

/**
 * Whether a provider's pull of `image` succeeds with the login it was given (`username`,
 * `password` and the registry it was given for): a public image always, a private one only
 * with its own login for its own registry.
 */
export function pullAllowed(
  image: SimImage,
  login: { username: string; password: string; registry: string } | undefined,
): boolean {
  if (image.login === undefined) return true;
  const registry = imageRegistry(image.ref);
  return (
    login !== undefined &&
    login.username === image.login.username &&
    login.password === image.login.password &&
    login.registry === registry
  );
}

/** The registry host an image reference names (`docker.io` when it names none). */
export function imageRegistry(ref: string): string {
  const first = ref.split('/')[0] ?? '';
  return ref.includes('/') && (/[.:]/.test(first) || first === 'localhost') ? first : 'docker.io';
}

/** Docker's normalization: `docker.io/` and `library/` dropped, `:latest` when no tag or digest. */
export function normalizeRef(ref: string): string {
  let name = ref.trim();
  for (const prefix of ['docker.io/', 'index.docker.io/', 'registry-1.docker.io/']) {
    if (name.startsWith(prefix)) name = name.slice(prefix.length);
  }
  if (name.startsWith('library/')) name = name.slice('library/'.length);
  const lastSlash = name.lastIndexOf('/');
  const hasTag = name.slice(lastSlash + 1).includes(':') || name.includes('@');
  return hasTag ? name : `${name}:latest`;
}

/** The image a reference names, or undefined when nobody published it. */
export function findSimImage(ref: string, images: readonly SimImage[] = SIM_IMAGES): SimImage | undefined {
  const wanted = normalizeRef(ref);
  return images.find((image) => image.ref === wanted);
}
