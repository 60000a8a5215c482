import type { TestProject } from 'vitest/node';
import { ensureBinaries } from './binaries.ts';
import { startControlPlane } from './control-plane.ts';
import { startTestDynamo } from './dynamo.ts';
import './provided-context.ts';

/**
 * globalSetup of the `integration` project (vitest.config.ts): ONE control plane
 * (etcd + kube-apiserver + kube-scheduler + kube-controller-manager) and ONE dynalite for the
 * whole run. Missing binaries are built first (progress on stderr). Any part that cannot be
 * built or started throws a TestGroundError naming it, which fails the project — never a skip.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const binaries = await ensureBinaries();
  const controlPlane = await startControlPlane({ binaries });
  const { info } = controlPlane;
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  try {
    dynamo = await startTestDynamo();
  } catch (error) {
    await controlPlane.stop();
    throw error;
  }
  log(
    `Kubernetes ${info.versions.kubernetes} (etcd ${info.versions.etcd}) at ${info.server}, ` +
      `ready in ${(info.startupMs / 1000).toFixed(1)}s; dynalite at ${dynamo.info.endpoint}`,
  );
  project.provide('anexControlPlane', info);
  project.provide('anexDynamo', dynamo.info);
  return async () => {
    await dynamo.server.close();
    await controlPlane.stop();
  };
}

function log(message: string): void {
  process.stderr.write(`[anex test ground] ${message}\n`);
}
