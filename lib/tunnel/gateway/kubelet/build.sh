#!/usr/bin/env bash
# Builds anex-kubelet (./cmd/anex-kubelet, ADR 0023: the kubelet API of anex's virtual nodes)
# for this machine, so `anex run` and the tests can start it. The gateway image builds its
# own copy (lib/tunnel/gateway/image/Dockerfile).
# Static and reproducible as lib/tunnel/agent-build/build.sh builds the agent binaries
# (CGO_ENABLED=0, -trimpath, no build id, no VCS stamp), into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/anex/kubelet/set-<source hash>-<go version>-<os>-<arch>/anex-kubelet
# The source hash covers this module and the agent API contract it imports from
# lib/tunnel/agent-build (agent/pkg/agentapi, go.mod, go.sum), so an edit rebuilds and an
# unchanged tree reuses the cache. A build writes into a temporary directory and renames it:
# an interrupted build never leaves a half-built directory.
#
# Output: the directory's absolute path on the last stdout line; progress goes to stderr.
# Needs Go (the version go.mod names) and the Go module proxy (or a warm module cache).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
readonly AGENT_BUILD="$HERE/../../agent-build"
readonly CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/anex/kubelet"

log() { printf '[kubelet-build] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  echo
  echo "usage: $0 [--help]"
  exit 0
fi
[ $# -eq 0 ] || die "unexpected argument '$1' (usage: $0 [--help])"

command -v go >/dev/null 2>&1 ||
  die "'go' is not on PATH: Go is needed to build anex-kubelet (https://go.dev/dl/)"

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$@" | cut -d' ' -f1
  else shasum -a 256 "$@" | cut -d' ' -f1
  fi
}

# Every source file that goes into the binary (not test files) and this script, in a stable
# order, hashed by name and content.
source_hash() {
  {
    (cd "$HERE" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum -o -name build.sh \) ! -name '*_test.go')
    (cd "$HERE" && find ../../agent-build/agent/pkg/agentapi -type f -name '*.go' ! -name '*_test.go')
    printf '%s\n' ../../agent-build/go.mod ../../agent-build/go.sum
  } | LC_ALL=C sort | while read -r f; do printf '%s %s\n' "$f" "$(cd "$HERE" && sha256_of "$f")"; done |
    sha256_of | cut -c1-12
}

[ -d "$AGENT_BUILD/agent/pkg/agentapi" ] || die "the agent API contract is missing at $AGENT_BUILD/agent/pkg/agentapi"
version=$(sed -n 's/^const version = "\(.*\)"$/\1/p' "$HERE/cmd/anex-kubelet/main.go")
[ -n "$version" ] || die "cannot read 'const version' from $HERE/cmd/anex-kubelet/main.go"
go_version=$(go env GOVERSION)
goos=$(go env GOOS)
goarch=$(go env GOARCH)
dir="$CACHE_ROOT/set-$(source_hash)-$go_version-$goos-$goarch"

if [ -x "$dir/anex-kubelet" ]; then
  log "anex-kubelet $version ($go_version, $goos/$goarch) cached at $dir"
  printf '%s\n' "$dir"
  exit 0
fi

mkdir -p "$CACHE_ROOT"
tmp=$(mktemp -d "$CACHE_ROOT/.set.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log "building anex-kubelet $version for $goos/$goarch with $go_version (first run only)..."
(cd "$HERE" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
  go build -trimpath -ldflags "-s -w -buildid=" -o "$tmp/anex-kubelet" ./cmd/anex-kubelet) ||
  die "go build of anex-kubelet failed (is the Go module proxy reachable?)"
log "built anex-kubelet ($(wc -c <"$tmp/anex-kubelet") bytes, sha256 $(sha256_of "$tmp/anex-kubelet"))"
chmod 755 "$tmp"
# Another build may have finished first; its result is equivalent, keep it.
if mv -T "$tmp" "$dir" 2>/dev/null; then trap - EXIT; else log "another build finished first; using it"; fi
log "anex-kubelet ready in $dir"
printf '%s\n' "$dir"
