/** What the control plane needs of an image's config (OCI image-spec config.md `config`). */
export interface ImageConfig {
  /** the digest of the platform manifest the config belongs to */
  digest: string;
  entrypoint: readonly string[];
  cmd: readonly string[];
  /** "K=V" entries */
  env: readonly string[];
  workingDir?: string;
}

/** The container's argv with Kubernetes semantics over the image config, and where it runs. */
export interface EffectiveCommand {
  argv: readonly string[];
  workingDir?: string;
}

/**
 * Kubernetes' rules (kubernetes.io "Define a Command and Arguments for a Container"): `command`
 * replaces ENTRYPOINT, `args` replaces CMD; a `command` without `args` drops the image's CMD
 * too (the image's CMD belongs to its ENTRYPOINT); neither → the image's own. The container's
 * workingDir replaces the image's WorkingDir.
 */
export function effectiveCommand(
  container: { command?: readonly string[]; args?: readonly string[]; workingDir?: string },
  image: Pick<ImageConfig, 'entrypoint' | 'cmd' | 'workingDir'>,
): EffectiveCommand {
  const command =
    container.command !== undefined && container.command.length > 0 ? container.command : undefined;
  const args = container.args !== undefined && container.args.length > 0 ? container.args : undefined;
  const entrypoint = command ?? image.entrypoint;
  const cmd = args ?? (command === undefined ? image.cmd : []);
  const workingDir = container.workingDir ?? image.workingDir;
  return {
    argv: [...entrypoint, ...cmd],
    ...(workingDir === undefined || workingDir === '' ? {} : { workingDir }),
  };
}
