import type { NumericConstraint, Requirements } from '../annotations/requirements.ts';
import { InvalidInputError } from '../errors.ts';
import type { RegistryAuth } from '../images/keyring.ts';
import type { PodView } from '../kube/cluster.ts';
import {
  formatTag,
  type InstanceTag,
  type LaunchSpec,
  POD_UID_ENV_VAR,
  TAG_ENV_VAR,
} from '../providers/provider.ts';

export interface LaunchInput {
  pod: PodView;
  requirements: Requirements;
  tag: InstanceTag;
  /** the pod's credential for its image's registry (imagePullSecrets) */
  registryAuth?: RegistryAuth;
  /**
   * the variable in which the provider tells the machine its instance id (Provider
   * instanceIdEnv): the agent launch passes its name so the agent names its instance (ADR 0021)
   */
  instanceIdEnv?: string;
}

/**
 * The plain launch: the pod's first container as is (image, command, args, plain env) plus
 * the ownership env vars, on the requested disk. The providers' mappers keep Kubernetes'
 * semantics in their exec forms (command → ENTRYPOINT, args → CMD, neither → the image's).
 * The agent launch (agent-launch.ts) replaces command and args with the launch stub and adds
 * the endpoint URL and one-time token; the agent gets the container's command at bootstrap.
 * Callers depend only on this function's shape (`LaunchBuilder`).
 */
export function buildLaunchSpec(input: LaunchInput): LaunchSpec {
  const container = input.pod.containers[0];
  if (container === undefined) {
    throw new InvalidInputError([`pod ${input.pod.namespace}/${input.pod.name}: spec.containers is empty`]);
  }
  const spec: LaunchSpec = {
    image: container.image,
    env: {
      ...container.env,
      [TAG_ENV_VAR]: formatTag(input.tag),
      [POD_UID_ENV_VAR]: input.tag.podUid,
    },
    diskGb: input.requirements.diskToAllocateGb,
  };
  if (input.requirements.cuda !== undefined) spec.cuda = input.requirements.cuda;
  const floors = hostFloors(input.requirements);
  if (floors !== undefined) spec.floors = floors;
  if (input.registryAuth !== undefined) spec.registryAuth = input.registryAuth;
  if (container.command !== undefined) spec.command = container.command;
  if (container.args !== undefined) spec.args = container.args;
  return spec;
}

/** The pod's CPU and RAM minimums (an exact value is a minimum too), when it sets any. */
function hostFloors(requirements: Requirements): LaunchSpec['floors'] {
  const least = (c: NumericConstraint | undefined) =>
    c === undefined ? undefined : 'exact' in c ? c.exact : c.min;
  const cpuCores = least(requirements.cpuCores);
  const ramMb = least(requirements.ramMb);
  if (cpuCores === undefined && ramMb === undefined) return undefined;
  return { ...(cpuCores === undefined ? {} : { cpuCores }), ...(ramMb === undefined ? {} : { ramMb }) };
}

export interface BuiltLaunch {
  spec: LaunchSpec;
  /** the pod's VPN address when one was allocated (it becomes the pod's podIP) */
  vpnAddress?: string;
  /** `agent`: the instance runs the anex agent, whose 'started' report is the container's start. @default 'plain' */
  launch?: 'agent' | 'plain';
  /** the attempt's bootstrap token as the pod record keeps it (its hash; ADR 0021), for an agent launch */
  agentToken?: { hash: string; instanceBound?: boolean };
}

/**
 * The seam execute uses; async so the tunnel integration can allocate an address and a token.
 * `agent`: the launch runs the anex agent, which can be handed what the provider must not see
 * (env from Secrets) at bootstrap.
 */
export type LaunchBuilder = ((input: LaunchInput) => Promise<BuiltLaunch>) & { readonly agent?: boolean };

/** No tunnel: the container runs as is (tests, and providers reached without the agent). */
export const plainLaunch: LaunchBuilder = async (input) => ({
  spec: buildLaunchSpec(input),
  launch: 'plain',
});
