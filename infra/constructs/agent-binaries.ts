import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { FUNCTION_ENV } from '../../functions/support/env.ts';
import type { Arch } from '../../lib/tunnel/pins.ts';
import {
  type BuildManifest,
  buildSelfBuiltBinaries,
  builtFiles,
  SELF_BUILT,
  type SelfBuiltName,
} from '../../lib/tunnel/self-built.ts';

const ARCHES: readonly Arch[] = ['amd64', 'arm64'];

/**
 * anex's own agent binaries (wireproxy and wstunnel: lib/tunnel/agent-build, ADRs 0008 and
 * 0009), uploaded as one file asset per binary and architecture. The build runs at synth (cached after the first run, offline, no
 * Docker) so the checksums handed to the agent function are the uploaded bytes' own.
 */
export class AgentBinaries extends Construct {
  readonly manifest: BuildManifest;
  readonly assets: Readonly<Record<SelfBuiltName, Readonly<Record<Arch, Asset>>>>;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    // The stack ships the binaries, so a failed build stops the synth (its error says why).
    const { dir, manifest } = buildSelfBuiltBinaries();
    this.manifest = manifest;
    const files = builtFiles(dir, this.manifest);
    const upload = (name: SelfBuiltName, prefix: string) => ({
      amd64: new Asset(this, `${prefix}Amd64`, { path: files[name].amd64 }),
      arm64: new Asset(this, `${prefix}Arm64`, { path: files[name].arm64 }),
    });
    this.assets = { wireproxy: upload('wireproxy', 'Wireproxy'), wstunnel: upload('wstunnel', 'Wstunnel') };
  }

  /**
   * Lets `fn` hand the binaries out: where they are and their checksums in its environment,
   * `s3:GetObject` on exactly these objects (presigned URLs are signed with its role).
   */
  serveFrom(fn: lambda.Function): void {
    const keysOf = (name: SelfBuiltName) => ({
      amd64: this.assets[name].amd64.s3ObjectKey,
      arm64: this.assets[name].arm64.s3ObjectKey,
    });
    // File assets all land in the stack's one asset bucket.
    const bucket = this.assets.wireproxy.amd64.s3BucketName;
    fn.addEnvironment(
      FUNCTION_ENV.agentBinaries,
      Stack.of(this).toJsonString({
        bucket,
        keys: { wireproxy: keysOf('wireproxy'), wstunnel: keysOf('wstunnel') },
        manifest: this.manifest,
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: SELF_BUILT.flatMap((name) =>
          ARCHES.map((arch) =>
            this.assets[name][arch].bucket.arnForObjects(this.assets[name][arch].s3ObjectKey),
          ),
        ),
      }),
    );
  }
}
