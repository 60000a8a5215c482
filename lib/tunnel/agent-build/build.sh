#!/usr/bin/env bash
# Builds the binaries anex hands to rented machines, from this Go module:
#   agent      anex's agent (./agent, ADR 0010): what the launch stub downloads and execs;
#   wireproxy  github.com/pufferffish/wireproxy (version pinned by go.mod, from the Go module
#              proxy) with Landlock replaced by a no-op (stubs/landlock, ADR 0008);
#   wstunnel   anex's own wstunnel-protocol client/server (./wstunnel, ADR 0009), for RunPod,
#              where WireGuard's UDP must travel over a WebSocket.
# Cross-compiled for linux/amd64 and linux/arm64, static and reproducible (CGO_ENABLED=0,
# -trimpath, no build id, no VCS stamp), into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/anex/agent-binaries/set-<source hash>-<go version>/
# with manifest.json: {"goVersion","binaries":{"agent":{"version","source","assets":
# {"amd64":{"file","sha256","format"},…}},"wireproxy":{…},"wstunnel":{…}}}. The source hash covers every file
# of this module, so an edit rebuilds and an unchanged tree reuses the cache. A build writes
# into a temporary directory and renames it: an interrupted build never leaves a half set.
#
# Output: the directory's absolute path on the last stdout line; progress goes to stderr.
# Needs Go >= 1.24 (tool directives) and the Go module proxy (or a warm module cache).
set -euo pipefail

readonly WIREPROXY_REVISION=anex1
readonly ARCHES=(amd64 arm64)
readonly WIREPROXY_MODULE=github.com/pufferffish/wireproxy
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
readonly CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/anex/agent-binaries"

log() { printf '[agent-build] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  echo
  echo "usage: $0 [--help]"
  exit 0
fi
[ $# -eq 0 ] || die "unexpected argument '$1' (usage: $0 [--help])"

command -v go >/dev/null 2>&1 ||
  die "'go' is not on PATH: Go >= 1.24 is needed to build the agent binaries (https://go.dev/dl/)"

# sha256_of FILE, or standard input without an argument
sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$@" | cut -d' ' -f1
  else shasum -a 256 "$@" | cut -d' ' -f1
  fi
}

# Every source file of the module (not test files: they do not change the binaries) and this
# script (it decides what is built), in a stable order, hashed by name and content.
source_hash() {
  (cd "$HERE" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum -o -name build.sh \) ! -name '*_test.go' |
    LC_ALL=C sort | while read -r f; do printf '%s %s\n' "$f" "$(sha256_of "$f")"; done) |
    sha256_of | cut -c1-12
}

wireproxy_upstream=$(cd "$HERE" && go list -m -f '{{.Version}}' "$WIREPROXY_MODULE") ||
  die "cannot read the wireproxy version from $HERE/go.mod"
readonly WIREPROXY_VERSION="$wireproxy_upstream-$WIREPROXY_REVISION"
wstunnel_version=$(sed -n 's/^const version = "\(.*\)"$/\1/p' "$HERE/wstunnel/main.go")
[ -n "$wstunnel_version" ] || die "cannot read 'const version' from $HERE/wstunnel/main.go"
agent_version=$(sed -n 's/^const version = "\(.*\)"$/\1/p' "$HERE/agent/main.go")
[ -n "$agent_version" ] || die "cannot read 'const version' from $HERE/agent/main.go"
go_version=$(go env GOVERSION)
dir="$CACHE_ROOT/set-$(source_hash)-$go_version"

if [ -f "$dir/manifest.json" ]; then
  log "agent binaries (agent $agent_version, wireproxy $WIREPROXY_VERSION, wstunnel $wstunnel_version, $go_version) cached at $dir"
  printf '%s\n' "$dir"
  exit 0
fi

mkdir -p "$CACHE_ROOT"
tmp=$(mktemp -d "$CACHE_ROOT/.set.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# build <name> <package> <version>: both architectures; prints the manifest's "assets" object.
build() {
  local name=$1 package=$2 version=$3 assets="" arch file sum
  for arch in "${ARCHES[@]}"; do
    file="$name-linux-$arch"
    log "building $name $version for linux/$arch with $go_version (first run only)..."
    (cd "$HERE" && CGO_ENABLED=0 GOOS=linux GOARCH="$arch" GOFLAGS=-buildvcs=false \
      go build -trimpath -ldflags "-s -w -buildid=" -o "$tmp/$file" "$package") ||
      die "go build of $name failed for linux/$arch (is the Go module proxy reachable?)"
    sum=$(sha256_of "$tmp/$file")
    log "built $file ($(wc -c <"$tmp/$file") bytes, sha256 $sum)"
    assets="$assets${assets:+,}\"$arch\":{\"file\":\"$file\",\"sha256\":\"$sum\",\"format\":\"binary\"}"
  done
  printf '{%s}' "$assets"
}

agent_assets=$(build agent ./agent "$agent_version")
wireproxy_assets=$(build wireproxy "$WIREPROXY_MODULE/cmd/wireproxy" "$WIREPROXY_VERSION")
wstunnel_assets=$(build wstunnel ./wstunnel "$wstunnel_version")
printf '{"goVersion":"%s","binaries":{"agent":{"version":"%s","source":"%s (anex agent)","assets":%s},"wireproxy":{"version":"%s","source":"%s@%s with %s (github.com/landlock-lsm/go-landlock replaced by a no-op)","assets":%s},"wstunnel":{"version":"%s","source":"%s (wstunnel v10 protocol, anex implementation)","assets":%s}}}\n' \
  "$go_version" \
  "$agent_version" "lib/tunnel/agent-build/agent" "$agent_assets" \
  "$WIREPROXY_VERSION" "$WIREPROXY_MODULE" "$wireproxy_upstream" "lib/tunnel/agent-build" "$wireproxy_assets" \
  "$wstunnel_version" "lib/tunnel/agent-build/wstunnel" "$wstunnel_assets" >"$tmp/manifest.json"
chmod 755 "$tmp"
# Another build may have finished first; its result is equivalent, keep it.
if mv -T "$tmp" "$dir" 2>/dev/null; then trap - EXIT; else log "another build finished first; using it"; fi
log "agent binaries ready in $dir"
printf '%s\n' "$dir"
