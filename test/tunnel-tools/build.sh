#!/bin/sh
# Builds the pinned wireproxy from the Go module proxy (go.mod here pins it with a `tool`
# directive) and caches the binary per wireproxy version and Go version, so tests run the real
# thing without rebuilding. Prints the binary's path on the last line of stdout.
#
#   test/tunnel-tools/build.sh            build if missing, print the path
#   ANEX_GO_LOCK=/tmp/anex-go.lock        lock file serialising Go builds (default shown)
set -eu

here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/anex/tools"
lock="${ANEX_GO_LOCK:-/tmp/anex-go.lock}"

command -v go >/dev/null 2>&1 || { echo "build.sh: 'go' is not on PATH; install Go >= 1.24 (tool directives) to build wireproxy" >&2; exit 1; }

module=github.com/pufferffish/wireproxy
version=$(cd "$here" && go list -m -f '{{.Version}}' "$module")
go_version=$(go env GOVERSION)
dir="$cache_root/wireproxy-$version-$go_version"
bin="$dir/wireproxy"

if [ -x "$bin" ]; then
  echo "wireproxy $version ($go_version) cached at $bin" >&2
  echo "$bin"
  exit 0
fi

mkdir -p "$dir"
echo "building wireproxy $version with $go_version (first run only; waiting for $lock)..." >&2
tmp="$dir/wireproxy.tmp.$$"
# flock serialises Go builds on this shared machine; without flock(1) build directly.
if command -v flock >/dev/null 2>&1; then
  (cd "$here" && flock "$lock" go build -trimpath -o "$tmp" "$module/cmd/wireproxy")
else
  (cd "$here" && go build -trimpath -o "$tmp" "$module/cmd/wireproxy")
fi
mv "$tmp" "$bin"
echo "built $bin" >&2
echo "$bin"
