#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver, kube-scheduler, kube-controller-manager,
# etcd) and kubectl (for the tests that drive it as a user does) from the Go module proxy,
# using the wrapper modules next to this script, into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/anex/control-plane/k8s-<v>-etcd-<v>-<go version>/
# Binaries already there are reused; a build writes a temporary file and renames it, so an
# interrupted build never leaves a half-written binary behind.
#
# envtest conventions are honoured so users who already have binaries need no Go:
#   TEST_ASSET_KUBE_APISERVER, TEST_ASSET_KUBE_SCHEDULER, TEST_ASSET_KUBE_CONTROLLER_MANAGER,
#   TEST_ASSET_KUBECTL, TEST_ASSET_ETCD   path of one binary (must exist and be executable)
#   KUBEBUILDER_ASSETS directory searched for any binary not given by TEST_ASSET_*
# Anything not found that way is built (needs Go >= 1.24).
#
# Output: one `<name>=<absolute path>` line per binary on stdout; progress goes to stderr.
set -euo pipefail

readonly K8S_VERSION=v1.33.13
readonly ETCD_VERSION=v3.5.21
readonly GO_MIN_MAJOR=1 GO_MIN_MINOR=24
readonly COMPONENTS=(kube-apiserver kube-scheduler kube-controller-manager kubectl etcd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
readonly CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/anex/control-plane"

log() { printf '[control-plane] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() {
  sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  echo
  echo "usage: $0 [--help]"
}

# TEST_ASSET_<NAME> variable for a component: kube-apiserver -> TEST_ASSET_KUBE_APISERVER.
asset_var() {
  local upper
  upper=$(printf '%s' "$1" | tr 'a-z-' 'A-Z_')
  printf 'TEST_ASSET_%s' "$upper"
}

# Prints the path given by the environment for a component, or nothing.
from_environment() {
  local name=$1 var value
  var=$(asset_var "$name")
  value=${!var:-}
  if [ -n "$value" ]; then
    [ -f "$value" ] && [ -x "$value" ] ||
      die "$var=$value is not an executable file (unset it to build $name instead)"
    printf '%s' "$value"
    return
  fi
  if [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/$name" ]; then
    printf '%s' "$KUBEBUILDER_ASSETS/$name"
  fi
}

# Fails unless `go` is on PATH and at least GO_MIN; prints its version (e.g. go1.26.8).
require_go() {
  command -v go >/dev/null 2>&1 ||
    die "'go' is not on PATH: Go >= $GO_MIN_MAJOR.$GO_MIN_MINOR is needed to build the test control plane from source (https://go.dev/dl/), or point KUBEBUILDER_ASSETS / TEST_ASSET_* at existing binaries"
  local version major minor
  version=$(GOTOOLCHAIN=local go env GOVERSION 2>/dev/null) || die "'go env GOVERSION' failed; is the Go installation broken?"
  if [[ $version =~ ^go([0-9]+)\.([0-9]+) ]]; then
    major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]}
  else
    die "cannot read the Go version from '$version' (expected e.g. go1.24.3)"
  fi
  if ((major < GO_MIN_MAJOR || (major == GO_MIN_MAJOR && minor < GO_MIN_MINOR))); then
    die "Go $version is too old: Kubernetes $K8S_VERSION needs Go >= $GO_MIN_MAJOR.$GO_MIN_MINOR"
  fi
  printf '%s' "$version"
}

# ldflags stamping the Kubernetes version the way hack/lib/version.sh does (the commit is
# not known from the module proxy, so gitCommit keeps its default).
k8s_ldflags() {
  local minor flags="-s -w" pkg
  minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitTreeState=archive -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  done
  printf '%s' "$flags"
}

# Prints "still building" lines while a long build runs, so CI logs do not look stuck.
heartbeat() {
  local name=$1 start=$2
  while sleep 30; do log "  … still building $name ($(($(date +%s) - start))s)"; done
}

# Builds one component into $2 (atomically: temporary name, then rename).
build_one() {
  local name=$1 target=$2 tmp start pulse module package flags=(-trimpath)
  tmp="$(dirname "$target")/.$name.tmp.$$"
  case $name in
    etcd) module=etcd package=go.etcd.io/etcd/server/v3 flags+=(-ldflags "-s -w") ;;
    *)
      module=k8s package=k8s.io/kubernetes/cmd/$name
      flags+=(-tags selinux,notest -ldflags "$(k8s_ldflags)")
      ;;
  esac
  start=$(date +%s)
  heartbeat "$name" "$start" &
  pulse=$!
  if ! (cd "$HERE/$module" && go build "${flags[@]}" -o "$tmp" "$package"); then
    kill "$pulse" 2>/dev/null || true
    rm -f "$tmp"
    die "building $name from $HERE/$module failed (see the go output above)"
  fi
  kill "$pulse" 2>/dev/null || true
  mv -f "$tmp" "$target"
  log "  built $name in $(($(date +%s) - start))s"
}

main() {
  case ${1:-} in
    -h | --help) usage; exit 0 ;;
    '') ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac

  local name path missing=() resolved=()
  for name in "${COMPONENTS[@]}"; do
    path=$(from_environment "$name")
    resolved+=("$path")
  done

  local go_version="" dir="" i
  for i in "${!COMPONENTS[@]}"; do
    [ -n "${resolved[$i]}" ] && continue
    if [ -z "$dir" ]; then
      go_version=$(require_go)
      dir="$CACHE_ROOT/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-$go_version"
    fi
    resolved[i]="$dir/${COMPONENTS[$i]}"
    [ -x "${resolved[$i]}" ] || missing+=("${COMPONENTS[$i]}")
  done

  if [ "${#missing[@]}" -gt 0 ]; then
    export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOWORK=off GOTOOLCHAIN=local
    mkdir -p "$dir"
    log "building ${missing[*]} with $go_version into $dir"
    log "(first run only: a cold build takes 10-30 min on 2 cores; later runs reuse the binaries)"
    local started n=0
    started=$(date +%s)
    for name in "${missing[@]}"; do
      n=$((n + 1))
      log "building $name ($n/${#missing[@]})… elapsed $(($(date +%s) - started))s"
      build_one "$name" "$dir/$name"
    done
    log "done in $(($(date +%s) - started))s"
  fi

  for i in "${!COMPONENTS[@]}"; do
    printf '%s=%s\n' "${COMPONENTS[$i]}" "${resolved[$i]}"
  done
}

main "$@"
