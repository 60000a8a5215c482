import {
  formatTag,
  type InstanceTag,
  type LaunchSpec,
  POD_UID_ENV_VAR,
  parseTag,
  TAG_ENV_VAR,
} from '../provider.ts';

/**
 * The launch env with anex's ownership marks added: the tag and the pod UID travel in the
 * container's env as a second mark beside the instance's name or label.
 */
export function markedEnv(launch: LaunchSpec, tag: InstanceTag): Record<string, string> {
  return { ...launch.env, [TAG_ENV_VAR]: formatTag(tag), [POD_UID_ENV_VAR]: tag.podUid };
}

/** The tag of an instance: its name or label, or failing that the tag env var. */
export function tagOfMarks(
  name: string | null | undefined,
  envTag: string | null | undefined,
): InstanceTag | undefined {
  return parseTag(name) ?? parseTag(envTag);
}
