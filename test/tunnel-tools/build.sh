#!/bin/sh
# The real wireproxy for tests: the product build (lib/tunnel/agent-build/build.sh, the
# same binaries the agent endpoint serves to agents), for this machine's architecture. Prints
# the binary's path on the last line of stdout; progress goes to stderr.
#
#   test/tunnel-tools/build.sh            build if missing, print the path
set -eu

here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
case "$(uname -m)" in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "build.sh: no wireproxy build for $(uname -m) (amd64 and arm64 only)" >&2; exit 1 ;;
esac
dir=$(bash "$here/../../lib/tunnel/agent-build/build.sh" | tail -n 1)
bin="$dir/wireproxy-linux-$arch"
[ -x "$bin" ] || { echo "build.sh: $bin is missing or not executable" >&2; exit 1; }
echo "$bin"
