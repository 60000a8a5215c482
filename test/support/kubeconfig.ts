// Moved to lib/local/control-plane (shared with `anex demo`).
export {
  adminKubeconfig,
  type KubeconfigDocument,
  writeKubeconfig,
} from '../../lib/local/control-plane/kubeconfig.ts';
