#!/usr/bin/env bash
# Builds the wireproxy anex hands to agents on rented machines: github.com/pufferffish/wireproxy
# (version pinned by go.mod here, from the Go module proxy) with Landlock replaced by a no-op
# (stubs/landlock, docs/adr/0008-self-built-agent-binaries.md), cross-compiled for
# linux/amd64 and linux/arm64, static and reproducible (CGO_ENABLED=0, -trimpath, no build id,
# no VCS stamp), into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/anex/agent-binaries/wireproxy-<version>-anex1-<go version>/
# with manifest.json: {"name","version","goVersion","assets":{"amd64":{"file","sha256","format"},…}}.
# A directory that already holds a manifest is reused; a build writes into a temporary
# directory and renames it, so an interrupted build never leaves a half-written set behind.
#
# Output: the directory's absolute path on the last stdout line; progress goes to stderr.
# Needs Go >= 1.24 (tool directives) and the Go module proxy (or a warm module cache).
set -euo pipefail

readonly BUILD_REVISION=anex1
readonly ARCHES=(amd64 arm64)
readonly MODULE=github.com/pufferffish/wireproxy
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
readonly CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/anex/agent-binaries"

log() { printf '[wireproxy-build] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  echo
  echo "usage: $0 [--help]"
  exit 0
fi
[ $# -eq 0 ] || die "unexpected argument '$1' (usage: $0 [--help])"

command -v go >/dev/null 2>&1 ||
  die "'go' is not on PATH: Go >= 1.24 is needed to build wireproxy for agents (https://go.dev/dl/)"

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  else shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

upstream=$(cd "$HERE" && go list -m -f '{{.Version}}' "$MODULE") ||
  die "cannot read the wireproxy version from $HERE/go.mod"
readonly VERSION="$upstream-$BUILD_REVISION"
go_version=$(go env GOVERSION)
dir="$CACHE_ROOT/wireproxy-$VERSION-$go_version"

if [ -f "$dir/manifest.json" ]; then
  log "wireproxy $VERSION ($go_version) cached at $dir"
  printf '%s\n' "$dir"
  exit 0
fi

mkdir -p "$CACHE_ROOT"
tmp=$(mktemp -d "$CACHE_ROOT/.wireproxy-$VERSION.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
assets=""
for arch in "${ARCHES[@]}"; do
  file="wireproxy-linux-$arch"
  log "building wireproxy $VERSION for linux/$arch with $go_version (first run only)..."
  (cd "$HERE" && CGO_ENABLED=0 GOOS=linux GOARCH="$arch" GOFLAGS=-buildvcs=false \
    go build -trimpath -ldflags "-s -w -buildid=" -o "$tmp/$file" "$MODULE/cmd/wireproxy") ||
    die "go build failed for linux/$arch (is the Go module proxy reachable?)"
  sum=$(sha256_of "$tmp/$file")
  log "built $file ($(wc -c <"$tmp/$file") bytes, sha256 $sum)"
  assets="$assets${assets:+,}\"$arch\":{\"file\":\"$file\",\"sha256\":\"$sum\",\"format\":\"binary\"}"
done
printf '{"name":"wireproxy","version":"%s","goVersion":"%s","source":"%s@%s with %s (github.com/landlock-lsm/go-landlock replaced by a no-op)","assets":{%s}}\n' \
  "$VERSION" "$go_version" "$MODULE" "$upstream" "lib/tunnel/wireproxy-build" "$assets" >"$tmp/manifest.json"
chmod 755 "$tmp"
# Another build may have finished first; its result is equivalent, keep it.
if mv -T "$tmp" "$dir" 2>/dev/null; then trap - EXIT; else log "another build finished first; using it"; fi
log "wireproxy $VERSION ready in $dir"
printf '%s\n' "$dir"
