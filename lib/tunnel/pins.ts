/**
 * Binaries the agent downloads on the instance, pinned by URL and SHA-256. Which pins agents
 * actually get (docs/tunnel.md "Agent binaries"):
 *
 * - `anex run` with the agent endpoint: anex's own builds (lib/tunnel/agent-build): wireproxy
 *   (upstream v1.0.9 with Landlock replaced by a no-op, so no bind bug) and wstunnel (anex's
 *   implementation of the wstunnel v10 protocol, ADR 0009), served by the endpoint at
 *   /v1/binaries/<name>/<arch> with the checksums the build computed (lib/local/agent-binaries.ts).
 * - The AWS `agent` function: the same build, uploaded by the stack as S3 file assets and
 *   handed out at presigned URLs (functions/support/agent-binaries.ts, infra/constructs/
 *   agent-binaries.ts).
 * - ANEX_AGENT_BINARIES: the operator's pins for the binaries it names, everywhere; the others
 *   as above. WIREPROXY_PIN and WSTUNNEL_PIN below are upstream releases, what a deployment
 *   without the self-built set (e.g. the tunnel-mode defaults in tests) falls back to.
 *
 * wireproxy upstream: every tag from v1.0.8 to v1.1.3 has the Landlock bug that makes
 * `[TCPClientTunnel]` fail with `bind: permission denied` on Linux ≥ 6.7 (windtf/wireproxy
 * #218; fixed by #219, merged 2026-07-27, after v1.1.3). WIREPROXY_PIN names the first tag
 * expected to contain the fix; its checksums are unset because the assets could not be
 * downloaded and verified here.
 *
 * Upstream wstunnel is Rust and cannot be built from the registries this project builds from;
 * anex ships its own protocol-compatible build instead, and WSTUNNEL_PIN stays an upstream
 * release with unset checksums for operators who prefer it (and verify it themselves).
 *
 * CHECKSUMS MUST BE FILLED AT RELEASE: download each asset once, verify it (release notes,
 * signature where offered), run `sha256sum`, paste the hex here. The endpoint REFUSES a
 * bootstrap whose agent would download a binary with an unset checksum (`pinIssues`: wireproxy
 * always, wstunnel for wstunnel launches), and the agent script checks again.
 */
export type Arch = 'amd64' | 'arm64';

export interface BinaryAsset {
  url: string;
  /** lower-case hex SHA-256 of the downloaded file; undefined = not yet verified, agent refuses */
  sha256: string | undefined;
  /** how the download is packed; `tar.gz` assets hold the binary at the archive root */
  format: 'binary' | 'tar.gz';
}

export interface BinaryPin {
  name: 'wireproxy' | 'wstunnel';
  version: string;
  /** where the source of this version lives (for audits and rebuilds) */
  source: string;
  assets: Readonly<Record<Arch, BinaryAsset>>;
}

/** First wireproxy release expected to contain the Landlock bind fix (#219). Verify before release. */
export const WIREPROXY_VERSION = 'v1.1.4';
export const WSTUNNEL_VERSION = 'v10.6.2';

export const WIREPROXY_PIN: BinaryPin = {
  name: 'wireproxy',
  version: WIREPROXY_VERSION,
  source: `https://github.com/windtf/wireproxy/tree/${WIREPROXY_VERSION} (module github.com/windtf/wireproxy)`,
  assets: {
    amd64: {
      url: `https://github.com/windtf/wireproxy/releases/download/${WIREPROXY_VERSION}/wireproxy_linux_amd64.tar.gz`,
      sha256: undefined,
      format: 'tar.gz',
    },
    arm64: {
      url: `https://github.com/windtf/wireproxy/releases/download/${WIREPROXY_VERSION}/wireproxy_linux_arm64.tar.gz`,
      sha256: undefined,
      format: 'tar.gz',
    },
  },
};

/** Upstream wstunnel, for operators who pin it themselves (ANEX_AGENT_BINARIES). */
export const WSTUNNEL_PIN: BinaryPin = {
  name: 'wstunnel',
  version: WSTUNNEL_VERSION,
  source: `https://github.com/erebe/wstunnel/tree/${WSTUNNEL_VERSION}`,
  assets: {
    amd64: {
      url: `https://github.com/erebe/wstunnel/releases/download/${WSTUNNEL_VERSION}/wstunnel_${WSTUNNEL_VERSION.slice(1)}_linux_amd64.tar.gz`,
      sha256: undefined,
      format: 'tar.gz',
    },
    arm64: {
      url: `https://github.com/erebe/wstunnel/releases/download/${WSTUNNEL_VERSION}/wstunnel_${WSTUNNEL_VERSION.slice(1)}_linux_arm64.tar.gz`,
      sha256: undefined,
      format: 'tar.gz',
    },
  },
};

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Problems that make a pin unusable (unset or malformed checksum, non-HTTPS URL). */
export function pinIssues(pin: BinaryPin, options: { allowInsecureUrls?: boolean } = {}): string[] {
  const issues: string[] = [];
  for (const [arch, asset] of Object.entries(pin.assets)) {
    if (asset.sha256 === undefined || !SHA256_HEX.test(asset.sha256)) {
      issues.push(
        `${pin.name} ${pin.version} (${arch}): SHA-256 of ${asset.url} is ${asset.sha256 === undefined ? 'unset' : `malformed (${asset.sha256})`}; fill it in lib/tunnel/pins.ts (or the endpoint's pin override) before running agents`,
      );
    }
    if (!asset.url.startsWith('https://') && !options.allowInsecureUrls) {
      issues.push(`${pin.name} ${pin.version} (${arch}): ${asset.url} is not an https:// URL`);
    }
  }
  return issues;
}
