import type { ContainerProbes, HandlerSpec } from '../../kube/probes.ts';
import type { AgentVolume } from '../../kube/volumes.ts';
import type { KubeletStore, LogStore, TunnelStore } from '../../state/store.ts';
import type { VpnRange } from '../addresses.ts';
import type { Arch, BinaryPin } from '../pins.ts';
import type { AgentDownload } from './agent-download.ts';
import type { RateLimiter } from './rate-limit.ts';

/**
 * The agent endpoint's seams. `handleAgentRequest` is a pure request → response function so
 * the same code serves the Lambda `agent` function (Function URL) and local mode's HTTP server.
 */
export interface AgentRequest {
  method: string;
  /** path with an optional query string, e.g. `/v1/pod-alive?podUid=…` */
  path: string;
  /** header names in any case */
  headers: Readonly<Record<string, string | undefined>>;
  /** raw body (UTF-8 text) */
  body: string | undefined;
  /**
   * the caller's address as the front end saw it (the Function URL's requestContext.http.sourceIp,
   * the local server's socket): part of the limit before authentication (rate-limit.ts)
   */
  sourceIp?: string;
}

export interface AgentResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** What the agent must run, as the reconciler knows it. */
export interface AgentLaunch {
  podUid: string;
  /**
   * How the instance reaches the gateway: `udp` straight to its WireGuard port, `wstunnel`
   * over a TLS WebSocket where the provider blocks UDP; `none`: no gateway is configured (the
   * demo, `anex run --simulate` without one), so the agent runs the pod without a tunnel and
   * the pod cannot reach the cluster (documented as degraded).
   */
  transport: 'udp' | 'wstunnel' | 'none';
  /** the pod container's command and args; together they must not be empty */
  command: readonly string[];
  args: readonly string[];
  /** where the command runs (the container's workingDir, else the image's) */
  workingDir?: string;
  /** plain env of the pod's container (GW_TUNNEL_* included) */
  env: Readonly<Record<string, string>>;
  restartPolicy: 'Always' | 'OnFailure' | 'Never';
  /** probes the agent runs on the machine (docs/agent-protocol.md) */
  probes?: ContainerProbes;
  preStop?: HandlerSpec;
  /** the pod's spec.terminationGracePeriodSeconds: the grace of a stop the agent decides itself */
  terminationGracePeriodSeconds?: number;
  /** the container's mounts, files included (secret values: the TLS answer only; protocol 4) */
  volumes?: readonly AgentVolume[];
  /** the container's declared TCP containerPorts: all port-forward may reach (ADR 0023) */
  ports?: readonly number[];
  /** init containers and sidecars, in the pod's order, run by the agent (protocol 4) */
  initContainers?: readonly AgentInitContainer[];
  /**
   * the pod's `anex.sh/allow-egress` as gateway destinations (`<host>:<port>`,
   * `<cidr>:<port>`): with its GW_TUNNEL_* targets, all its peer may reach (ADR 0020)
   */
  allowEgress?: readonly string[];
}

/** One init container (or sidecar: `sidecar`), in the pod's image, as the agent runs it. */
export interface AgentInitContainer {
  name: string;
  command: readonly string[];
  args: readonly string[];
  workingDir?: string;
  env: Readonly<Record<string, string>>;
  /** restartPolicy Always: runs alongside the app container (KEP-753) */
  sidecar?: boolean;
  /** its declared TCP containerPorts */
  ports?: readonly number[];
  probes?: ContainerProbes;
  preStop?: HandlerSpec;
}

/**
 * The pod's container cannot be configured now (kubelet's CreateContainerConfigError: a
 * Secret, ConfigMap or key its env needs is missing): `getLaunch` throws it and the bootstrap
 * answers 409 with the message, which names objects and keys, never a value.
 */
export class LaunchConfigError extends Error {
  override readonly name = 'LaunchConfigError';
}

export type AgentState = 'started' | 'exited' | 'failed' | 'ready' | 'unhealthy' | 'evicted';

export interface StatusReport {
  state: AgentState;
  exitCode?: number;
  /** the agent's words, for a pod condition or event; never contains secrets (the agent sends none) */
  reason?: string;
  /** the run the report is about on this machine: 0 for the first start, +1 per restart in place */
  restartCount?: number;
  /** on `exited`: the agent starts the next run after this many seconds (absent: the final end) */
  restartInSeconds?: number;
  /** on `ready`: the readiness of the run */
  ready?: boolean;
  /** on `unhealthy`: which probe failed */
  probe?: 'startup' | 'readiness' | 'liveness';
  /** protocol 4: the init container or sidecar the report is about; absent: the app container */
  container?: string;
  /** on `evicted`: kubelet's words (an emptyDir over its sizeLimit) */
  message?: string;
}

/**
 * What the pod-alive question is answered: keep running, or stop within `graceSeconds`
 * (preStop, SIGTERM, SIGKILL at the end of the grace; 0: stop now).
 */
export type Liveness = { alive: true } | { alive: false; graceSeconds: number };

/**
 * The pod's current attempt, as the bootstrap checks a token against it (ADR 0021).
 */
export interface AttemptView {
  /**
   * hex SHA-256 of the attempt's bootstrap token; absent when no attempt waits for its agent
   * (the attempt ended, or the pod was not launched through the agent): every token is refused
   */
  tokenHash?: string;
  /** the agent must name its instance (the provider tells the machine its id) */
  instanceBound: boolean;
  /** the attempt's instance, once the create's answer is recorded */
  instanceId?: string;
  /** the attempt's agent already bootstrapped: its key and credential are not replaced */
  bootstrapped: boolean;
}

/**
 * Implemented by the reconciler side (over the Store and the Cluster); an in-memory
 * implementation lives in memory-backend.ts for tests and local experiments.
 *
 * Contract:
 * - `getLaunch` returns undefined once the pod is gone, deleted or finished: no new agent
 *   may bootstrap for it.
 * - `attempt` returns the pod's current attempt (ADR 0021); undefined only from a backend that
 *   keeps no attempts (the in-memory one, unless a test binds one): then the token alone decides.
 * - Only hashes of status credentials are stored, one per pod: the current attempt's.
 *   `saveStatusCredential` replaces any earlier one — when `tokenHash` is given, only while that
 *   token is still the current attempt's (false otherwise: the attempt ended meanwhile).
 * - `recordStatus` is idempotent: the agent repeats a report until it gets a 2xx.
 * - `liveness` is `alive: false` once the instance should stop (pod deleted, finished, or
 *   unknown), with the grace left of a deletion the API server is waiting on.
 */
export interface AgentBackend {
  getLaunch(podUid: string): Promise<AgentLaunch | undefined>;
  attempt(podUid: string): Promise<AttemptView | undefined>;
  saveStatusCredential(podUid: string, hash: string, tokenHash?: string): Promise<boolean>;
  getStatusCredentialHash(podUid: string): Promise<string | undefined>;
  recordStatus(podUid: string, report: StatusReport, options: { now: number }): Promise<void>;
  liveness(podUid: string): Promise<Liveness>;
}

/** Structured logger (Powertools-compatible shape). Callers never pass secrets in fields. */
export interface AgentLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

/** The tunnel side of the installation, from configuration. */
export interface TunnelSettings {
  vpnRange: VpnRange;
  gatewayPublicKey: string;
  /** the gateway's UDP WireGuard address as agents dial it (`host:port`) */
  udpEndpoint: string;
  /**
   * the gateway's wstunnel server, for `wstunnel` transport; `remote` is where the server
   * sends the UDP, the literal of its `--restrict-to` (default 127.0.0.1:51820)
   */
  wstunnel?: { serverUrl: string; pathPrefix: string; localPort?: number; remote?: string };
  /** extra ranges routed into the tunnel besides the VPN range (Service CIDR, Pod CIDR) */
  clusterCidrs: readonly string[];
  /** cluster DNS ClusterIP(s) */
  dns?: readonly string[];
  mtu?: number;
  binaries: { wireproxy: BinaryPin; wstunnel: BinaryPin };
  /** tests only: allow http:// binary URLs */
  allowInsecureBinaryUrls?: boolean;
  /** wireproxy's health port in the container @default 9080 */
  healthPort?: number;
  /** seconds the agent waits for the tunnel to come up @default 120 */
  readyTimeoutSeconds?: number;
  /**
   * seconds between the agent's pod-alive checks @default 10 — the delay before a deletion's
   * SIGTERM reaches the workload, so well under the usual 30 s grace
   */
  aliveIntervalSeconds?: number;
  /** the agent's restart back-off (kubelet's CrashLoopBackOff) @default 10 / 300 / 600 s; test grounds shorten it */
  restartBackoff?: { initialSeconds: number; maxSeconds: number; resetSeconds: number };
  /** the agent stops the instance after this long without reaching the endpoint @default 1800 */
  deadManSeconds?: number;
  /** hex SHA-256 of the gateway's credential for GET /v1/peers; unset disables that route */
  gatewayTokenHash?: string;
}

export interface AgentEndpointDeps {
  /** addresses and tokens; log tails (POST/GET /v1/logs); the kubelet API's address (GET /v1/peers) */
  store: TunnelStore & LogStore & KubeletStore;
  backend: AgentBackend;
  settings: TunnelSettings;
  logger: AgentLogger;
  now: () => number;
  /**
   * Told of each refused credential that may mean replay or theft (ADR 0021), after the
   * endpoint logged it: the AWS function counts it as the AgentAuthFailures metric, which
   * has an alarm. Unset (local mode): the log line is all.
   */
  onAuthFailure?: (failure: AuthFailure) => void;
  /** per-caller request limiter before authentication; in memory, per process (rate-limit.ts) */
  rateLimiter: RateLimiter;
  /**
   * per-pod limit after authentication shared by every process serving the endpoint (the
   * state table; rate-limit.ts); unset where one process serves it (local mode)
   */
  sharedLimiter?: RateLimiter;
  /**
   * Pins made per bootstrap, for URLs that expire (presigned downloads); replaces
   * `settings.binaries` when set. Called once per bootstrap with the agent's architecture.
   */
  binaryPins?: (arch: Arch) => Promise<TunnelSettings['binaries']>;
  /**
   * Where `GET /v1/agent/<arch>` redirects (the self-built agent binary); unset: 503. Must
   * match the artifact the launch stub pins (lib/tunnel/agent/stub.ts).
   */
  agentDownload?: AgentDownload;
}

/**
 * Why an agent's credential was refused. Suspicious ones (replay, theft, a key collision) go
 * to {@link AgentEndpointDeps.onAuthFailure}; the others are the normal end of an attempt (an
 * agent still asking after its attempt ended) or a malformed request.
 */
export type AuthFailureReason =
  | 'token-malformed'
  | 'token-unknown'
  | 'token-expired'
  | 'token-used'
  | 'token-wrong-pod'
  | 'token-wrong-attempt'
  | 'instance-missing'
  | 'instance-wrong'
  | 'attempt-bootstrapped'
  | 'key-gateway'
  | 'key-taken'
  | 'credential-missing'
  | 'credential-revoked'
  | 'credential-wrong';

export interface AuthFailure {
  reason: AuthFailureReason;
  /** /v1/bootstrap, /v1/status, /v1/pod-alive, /v1/logs */
  route: string;
  podUid: string;
}
