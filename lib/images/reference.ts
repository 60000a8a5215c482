/**
 * An image reference as Docker and the kubelet read it: `[registry/]path[:tag][@digest]`.
 * The first component is a registry when it has a `.` or a `:` or is `localhost`; otherwise
 * the image is on Docker Hub (`docker.io`), where a one-component path is `library/<name>`.
 */
export interface ImageRef {
  /** e.g. `docker.io`, `ghcr.io`, `localhost:5000` */
  registry: string;
  /** e.g. `library/ubuntu`, `example/trainer` */
  repository: string;
  /** a tag or a `sha256:` digest; `latest` when neither is given */
  reference: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** The parsed reference, or a message naming what is wrong and the accepted form. */
export function parseImageRef(text: string): ImageRef | { error: string } {
  const bad = (why: string) => ({
    error: `invalid image name ${JSON.stringify(text)}: ${why} (expected [registry/]name[:tag][@sha256:<digest>])`,
  });
  if (text.trim() !== text || text === '') return bad('empty or surrounded by spaces');
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return bad('the digest is not sha256:<64 hex>');
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return bad(`the tag ${JSON.stringify(tag)} is not valid`);
  }
  const parts = rest.split('/');
  const first = parts[0] ?? '';
  const hasRegistry =
    parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  const registry = hasRegistry ? first : 'docker.io';
  const path = hasRegistry ? parts.slice(1) : parts;
  if (path.length === 0 || !path.every((p) => COMPONENT.test(p))) {
    return bad('the name must be lower-case letters, digits and separators');
  }
  const repository = registry === 'docker.io' && path.length === 1 ? `library/${path[0]}` : path.join('/');
  return { registry, repository, reference: digest ?? tag ?? 'latest' };
}

export function formatImageRef(ref: ImageRef): string {
  const separator = ref.reference.startsWith('sha256:') ? '@' : ':';
  return `${ref.registry}/${ref.repository}${separator}${ref.reference}`;
}
