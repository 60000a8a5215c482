import type { Arch } from '../pins.ts';
import { AGENT_ENV } from './env.ts';

/**
 * What a provider is asked to run: a POSIX-sh stub of at most {@link STUB_BUDGET} bytes, sent
 * in each provider's exec form (`/bin/sh -c <stub>`). It downloads the agent from the agent
 * endpoint ({@link agentPath}), checks the SHA-256 baked into its text, and execs it with the
 * environment it was started with (endpoint URL, one-time token, pod UID). So the launch
 * stays far below Vast's 4096-character limit on onstart + args (vast audit #2) and needs no
 * shell quoting on RunPod (runpod audit #2), whatever the agent's size.
 *
 * Guarantees: https only unless ANEX_AGENT_INSECURE=1 (tests, local mode on loopback); a
 * failed download or a wrong checksum exits non-zero before anything runs; the token never
 * appears in an argv (it stays in the environment the agent reads).
 */
export const STUB_BUDGET = 1024;

/** The agent a stub fetches: its checksum per architecture and how it is started. */
export interface AgentArtifact {
  sha256: Readonly<Record<Arch, string>>;
  /** `sh`: a POSIX script run by /bin/sh; `exec`: a static binary */
  run: 'sh' | 'exec';
}

/** `/v1/agent/<arch>`: where the endpoint serves the agent (no authentication: the bytes are public, the checksum guards them). */
export function agentPath(arch: Arch): string {
  return `/v1/agent/${arch}`;
}

export function agentStub(artifact: AgentArtifact): string {
  const { amd64, arm64 } = artifact.sha256;
  for (const sum of [amd64, arm64]) {
    if (!/^[0-9a-f]{64}$/.test(sum))
      throw new Error(`agent checksum ${JSON.stringify(sum)} is not hex SHA-256`);
  }
  const exec = artifact.run === 'sh' ? 'exec /bin/sh "$f"' : 'exec "$f"';
  // Kept short on purpose (STUB_BUDGET): every line is needed; see the contract above.
  const lines = [
    'set -u;umask 077',
    `e(){ echo "anex-stub: $*" >&2;exit 1;};u=\${${AGENT_ENV.url}:-};u=\${u%/}`,
    `case $(uname -m) in aarch64|arm64)a=arm64;s=${arm64};;*)a=amd64;s=${amd64};;esac`,
    `p==https;[ "\${${AGENT_ENV.insecure}:-}" = 1 ]&&p==http,https`,
    `case $u in https://*);;http://*)[ $p = =https ]&&e "refusing http:// ($u; ${AGENT_ENV.insecure}=1 allows it on loopback)";;*)e "${AGENT_ENV.url} is not an https:// URL: "$u"";;esac`,
    'd=$(mktemp -d)||e "no temp dir";f=$d/agent;u=$u/v1/agent/$a',
    `if command -v curl >/dev/null;then curl -fsSL --retry 5 --retry-connrefused --proto $p --proto-redir $p \${${AGENT_ENV.caFile}:+--cacert "$${AGENT_ENV.caFile}"} -o "$f" "$u"`,
    'else wget -q -T 30 -t 5 -O "$f" "$u";fi||e "download of $u failed"',
    'h=$(sha256sum "$f" 2>/dev/null||openssl dgst -sha256 -r "$f");h=${h%% *}',
    '[ "$h" = $s ]||e "agent checksum mismatch: expected $s, got $h"',
    `chmod 700 "$f";${exec}`,
  ];
  return `${lines.join('\n')}\n`;
}

/** The exec form every provider is given: `/bin/sh -c <stub>`. */
export function agentCommand(artifact: AgentArtifact): string[] {
  return ['/bin/sh', '-c', agentStub(artifact)];
}

/** The env var carrying the selftest's nonce into the marker stub ({@link markerCommand}). */
export const MARKER_NONCE_ENV = 'ANEX_SELFTEST_NONCE';

/**
 * The line the marker stub prints for `nonce`. It is assembled by the shell at run time from
 * the nonce in the environment, so it appears in no request anex sends (the create's command
 * holds `$ANEX_SELFTEST_NONCE`, its env the bare nonce): seeing it in the provider's log proves
 * that the container really ran and its stdout reached the provider's log API.
 */
export function markerLine(nonce: string): string {
  return `anex-selftest marker ${nonce} ok`;
}

/**
 * The marker mode of the launch (`anex selftest` without an agent endpoint; ADR 0018): prints
 * {@link markerLine} and stays alive until the instance is destroyed — no download, no agent,
 * no token. Kept apart from {@link agentStub}: the normal launch path never runs it. POSIX sh
 * and shell builtins plus `sleep` only, so a busybox image runs it.
 */
export function markerStub(): string {
  return [
    `echo "anex-selftest marker \${${MARKER_NONCE_ENV}:?} ok"`,
    "trap 'exit 0' TERM INT",
    'while :; do sleep 5 & wait $!; done',
    '',
  ].join('\n');
}

/** The exec form of the marker stub, as every provider is given it: `/bin/sh -c <stub>`. */
export function markerCommand(): string[] {
  return ['/bin/sh', '-c', markerStub()];
}
