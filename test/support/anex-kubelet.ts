import { anexKubeletBinary as buildAnexKubelet } from '../../lib/local/kubelet-binary.ts';
import { TestGroundError } from './errors.ts';

/**
 * The real anex-kubelet (ADR 0023), built for this machine by the product's builder
 * (lib/local/kubelet-binary.ts: lib/tunnel/gateway/kubelet/build.sh, cached under
 * ~/.cache/anex/kubelet/), the one `anex run` and `anex demo` start. Built on first use; a
 * failed build fails the test loudly.
 */
export function anexKubeletBinary(): string {
  try {
    return buildAnexKubelet();
  } catch (error) {
    throw new TestGroundError('anex-kubelet', `${(error as Error).message}; is Go installed?`, {
      cause: error,
    });
  }
}
