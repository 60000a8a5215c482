import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { FUNCTION_ENV } from '../../functions/support/env.ts';
import type { Arch } from '../../lib/tunnel/pins.ts';
import { type BuildManifest, buildSelfBuiltWireproxy, builtFiles } from '../../lib/tunnel/self-built.ts';

const ARCHES: readonly Arch[] = ['amd64', 'arm64'];

/**
 * anex's own wireproxy for agents (lib/tunnel/wireproxy-build, ADR 0008), uploaded as one file
 * asset per architecture. The build runs at synth (cached after the first run, offline, no
 * Docker) so the checksums handed to the agent function are the uploaded bytes' own.
 */
export class AgentBinaries extends Construct {
  readonly manifest: BuildManifest;
  readonly assets: Readonly<Record<Arch, Asset>>;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    // The stack ships the binaries, so a failed build stops the synth (its error says why).
    const { dir, manifest } = buildSelfBuiltWireproxy();
    this.manifest = manifest;
    const files = builtFiles(dir, this.manifest);
    this.assets = {
      amd64: new Asset(this, 'WireproxyAmd64', { path: files.amd64 }),
      arm64: new Asset(this, 'WireproxyArm64', { path: files.arm64 }),
    };
  }

  /**
   * Lets `fn` hand the binaries out: where they are and their checksums in its environment,
   * `s3:GetObject` on exactly these objects (presigned URLs are signed with its role).
   */
  serveFrom(fn: lambda.Function): void {
    const keys = { amd64: this.assets.amd64.s3ObjectKey, arm64: this.assets.arm64.s3ObjectKey };
    fn.addEnvironment(
      FUNCTION_ENV.agentBinaries,
      Stack.of(this).toJsonString({ bucket: this.assets.amd64.s3BucketName, keys, manifest: this.manifest }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: ARCHES.map((arch) =>
          this.assets[arch].bucket.arnForObjects(this.assets[arch].s3ObjectKey),
        ),
      }),
    );
  }
}
