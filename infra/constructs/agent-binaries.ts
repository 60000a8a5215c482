import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { FUNCTION_ENV } from '../../functions/support/env.ts';
import type { Arch } from '../../lib/tunnel/pins.ts';
import {
  BUILT,
  type BuildManifest,
  type BuiltName,
  buildSelfBuiltBinaries,
  builtAgentArtifact,
  builtFiles,
} from '../../lib/tunnel/self-built.ts';

const ARCHES: readonly Arch[] = ['amd64', 'arm64'];

/**
 * anex's own agent binaries (the agent, wireproxy and wstunnel: lib/tunnel/agent-build, ADRs
 * 0008, 0009 and 0010), uploaded as one file asset per binary and architecture. The build runs at synth (cached after the first run, offline, no
 * Docker) so the checksums handed to the agent function are the uploaded bytes' own.
 */
export class AgentBinaries extends Construct {
  readonly manifest: BuildManifest;
  readonly assets: Readonly<Record<BuiltName, Readonly<Record<Arch, Asset>>>>;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    // The stack ships the binaries, so a failed build stops the synth (its error says why).
    const { dir, manifest } = buildSelfBuiltBinaries();
    this.manifest = manifest;
    const files = builtFiles(dir, this.manifest);
    const upload = (name: BuiltName, prefix: string) => ({
      amd64: new Asset(this, `${prefix}Amd64`, { path: files[name].amd64 }),
      arm64: new Asset(this, `${prefix}Arm64`, { path: files[name].arm64 }),
    });
    this.assets = {
      agent: upload('agent', 'Agent'),
      wireproxy: upload('wireproxy', 'Wireproxy'),
      wstunnel: upload('wstunnel', 'Wstunnel'),
    };
  }

  /**
   * Lets `fn` launch through the agent: the checksums the launch stub bakes in
   * (FUNCTION_ENV.agentSha256), which are the uploaded bytes' own.
   */
  pinAgentFor(fn: lambda.Function): void {
    fn.addEnvironment(FUNCTION_ENV.agentSha256, JSON.stringify(builtAgentArtifact(this.manifest).sha256));
  }

  /**
   * Lets `fn` hand the binaries out: where they are and their checksums in its environment,
   * `s3:GetObject` on exactly these objects (presigned URLs are signed with its role).
   */
  serveFrom(fn: lambda.Function): void {
    const keysOf = (name: BuiltName) => ({
      amd64: this.assets[name].amd64.s3ObjectKey,
      arm64: this.assets[name].arm64.s3ObjectKey,
    });
    // File assets all land in the stack's one asset bucket.
    const bucket = this.assets.wireproxy.amd64.s3BucketName;
    fn.addEnvironment(
      FUNCTION_ENV.agentBinaries,
      Stack.of(this).toJsonString({
        bucket,
        keys: { agent: keysOf('agent'), wireproxy: keysOf('wireproxy'), wstunnel: keysOf('wstunnel') },
        manifest: this.manifest,
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: BUILT.flatMap((name) =>
          ARCHES.map((arch) =>
            this.assets[name][arch].bucket.arnForObjects(this.assets[name][arch].s3ObjectKey),
          ),
        ),
      }),
    );
  }
}
