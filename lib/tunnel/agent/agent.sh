#!/bin/sh
# anex agent: the entrypoint of a rented container. POSIX sh + curl (or GNU wget); no other
# runtime, so it runs on ordinary CUDA/PyTorch images.
#
#   1. POST the one-time bootstrap token to the agent endpoint (HTTPS; http:// only with
#      ANEX_AGENT_INSECURE=1, for tests and local mode) and get the tunnel config back.
#   2. Download wireproxy (and wstunnel where UDP is blocked) from the pinned URLs and verify
#      their SHA-256; an unset or wrong checksum aborts and is reported as failed.
#   3. Start them, wait for wireproxy's /readyz, then run the pod's command with its env,
#      forwarding SIGTERM (and SIGINT, as SIGTERM: see forward()).
#   4. Report started / exited(code) / failed(reason). On exit the agent reports `exited` and
#      ends; the control plane then destroys the instance (billing stops) and, when
#      restartPolicy asks for a restart, starts the pod again on a new machine.
#   5. Dead-man's switch: when the endpoint says the pod is gone, or cannot be reached for
#      the configured time, the agent stops the workload and exits, so the instance stops.
#
# Environment (set by the reconciler at launch; nothing here is printed):
#   ANEX_AGENT_URL          agent endpoint base URL (https://…)
#   ANEX_BOOTSTRAP_TOKEN    one-time token; removed from the environment before anything runs
#   ANEX_POD_UID            the pod's UID
#   ANEX_INSTANCE_ID        optional: this instance's provider id (bound to the token)
#   ANEX_INSTANCE_ID_ENV    optional: name of the variable holding the instance id instead
#   ANEX_AGENT_INSECURE=1   allow http:// URLs (tests/local only)
#   ANEX_AGENT_CA_FILE      optional CA bundle for the endpoint's TLS certificate
#   ANEX_AGENT_HTTP         force the HTTP client: curl | wget
#   ANEX_AGENT_DIR          optional work directory (default: a fresh private temp dir)
# Exit status: the workload's exit code, or 1 when the agent itself failed.

umask 077
AGENT_VERSION=1
PLACEHOLDER='@ANEX_WG_PRIVATE_KEY@'

log() { printf 'anex-agent: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---- inputs -------------------------------------------------------------------------------
base_url=${ANEX_AGENT_URL:-}
token=${ANEX_BOOTSTRAP_TOKEN:-}
pod_uid=${ANEX_POD_UID:-}
unset ANEX_BOOTSTRAP_TOKEN
instance_id=${ANEX_INSTANCE_ID:-}
if [ -z "$instance_id" ] && [ -n "${ANEX_INSTANCE_ID_ENV:-}" ]; then
  case $ANEX_INSTANCE_ID_ENV in
    *[!A-Za-z0-9_]* | [0-9]*) die "ANEX_INSTANCE_ID_ENV=$ANEX_INSTANCE_ID_ENV is not a variable name" ;;
  esac
  eval "instance_id=\${$ANEX_INSTANCE_ID_ENV:-}"
fi
insecure=${ANEX_AGENT_INSECURE:-0}

[ -n "$base_url" ] || die "ANEX_AGENT_URL is not set (expected https://<agent endpoint>)"
[ -n "$pod_uid" ] || die "ANEX_POD_UID is not set"
case $pod_uid in *[!0-9a-f-]*) die "ANEX_POD_UID=$pod_uid is not a pod UID" ;; esac
case $token in '' | *[!A-Za-z0-9_-]*) die "ANEX_BOOTSTRAP_TOKEN is missing or malformed (expected base64url)" ;; esac
case $instance_id in *[!A-Za-z0-9._:-]*) die "instance id contains characters other than A-Z a-z 0-9 . _ : -" ;; esac

# https only, unless explicitly told otherwise (tests and local mode on loopback)
require_safe_url() {
  case $1 in
    https://*) return 0 ;;
    http://*) [ "$insecure" = 1 ] && return 0 ;;
  esac
  die "$2 must be an https:// URL (http:// only with ANEX_AGENT_INSECURE=1)"
}
require_safe_url "$base_url" ANEX_AGENT_URL
base_url=${base_url%/}

work=${ANEX_AGENT_DIR:-}
if [ -z "$work" ]; then
  work=$(mktemp -d 2>/dev/null || mktemp -d -t anex-agent) || die "cannot create a work directory"
fi
mkdir -p "$work" && chmod 700 "$work" || die "cannot use work directory $work"

# ---- tools --------------------------------------------------------------------------------
http_client=${ANEX_AGENT_HTTP:-}
if [ -z "$http_client" ]; then
  if command -v curl >/dev/null 2>&1; then http_client=curl
  elif command -v wget >/dev/null 2>&1; then http_client=wget
  else die "neither curl nor wget is installed; the agent needs one of them"; fi
fi

b64d() {
  if command -v base64 >/dev/null 2>&1; then printf '%s' "$1" | base64 -d
  else printf '%s' "$1" | openssl base64 -d -A; fi
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d ' ' -f 1
  elif command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r "$1" | cut -d ' ' -f 1
  else shasum -a 256 "$1" | cut -d ' ' -f 1; fi
}

# http NAME METHOD URL OUTFILE [BODYFILE] [BEARER] -> prints the HTTP status (000: no answer).
# Credentials travel in a 0600 config file, never in argv (/proc/<pid>/cmdline is public).
http() {
  _cfg="$work/.$1.http"
  : >"$_cfg"
  if [ "$http_client" = curl ]; then
    [ -n "${6:-}" ] && printf 'header = "Authorization: Bearer %s"\n' "$6" >>"$_cfg"
    [ -n "${5:-}" ] && printf 'header = "Content-Type: application/json"\ndata-binary = "@%s"\n' "$5" >>"$_cfg"
    [ -n "${ANEX_AGENT_CA_FILE:-}" ] && printf 'cacert = "%s"\n' "$ANEX_AGENT_CA_FILE" >>"$_cfg"
    _proto==https
    [ "$insecure" = 1 ] && _proto==http,https
    curl -sS -L --max-redirs 3 --proto "$_proto" --proto-redir "$_proto" -K "$_cfg" -X "$2" -o "$4" -w '%{http_code}' \
      --connect-timeout 10 --max-time 300 "$3" 2>>"$work/.$1.err" || true
  else
    [ -n "${6:-}" ] && printf 'header = Authorization: Bearer %s\n' "$6" >>"$_cfg"
    [ -n "${5:-}" ] && printf 'header = Content-Type: application/json\n' >>"$_cfg"
    [ -n "${ANEX_AGENT_CA_FILE:-}" ] && printf 'ca_certificate = %s\n' "$ANEX_AGENT_CA_FILE" >>"$_cfg"
    _body=
    [ -n "${5:-}" ] && _body="--body-file=$5"
    wget --config="$_cfg" -q -S --content-on-error --timeout=30 --tries=1 --method="$2" $_body \
      -O "$4" "$3" 2>"$work/.$1.hdr" || true
    _code=$(awk '/^ *HTTP\//{c=$2} END{print c}' "$work/.$1.hdr")
    printf '%s' "${_code:-000}"
  fi
  rm -f "$_cfg"
}

# ---- key pair -----------------------------------------------------------------------------
# The agent makes its own X25519 pair when openssl can, so the private key never leaves the
# container; otherwise the endpoint makes one and returns it once over TLS.
priv_key=
pub_key=
if command -v openssl >/dev/null 2>&1 && openssl genpkey -algorithm X25519 -out "$work/wg.pem" 2>/dev/null; then
  priv_key=$(openssl pkey -in "$work/wg.pem" -outform DER 2>/dev/null | tail -c 32 | base64 2>/dev/null)
  pub_key=$(openssl pkey -in "$work/wg.pem" -pubout -outform DER 2>/dev/null | tail -c 32 | base64 2>/dev/null)
  rm -f "$work/wg.pem"
  if [ ${#priv_key} -ne 44 ] || [ ${#pub_key} -ne 44 ]; then priv_key=; pub_key=; fi
fi

case $(uname -m) in
  aarch64 | arm64) arch=arm64 ;;
  *) arch=amd64 ;;
esac

# ---- bootstrap ----------------------------------------------------------------------------
{
  printf '{"token":"%s","podUid":"%s","arch":"%s","format":"shell","agentVersion":"%s"' \
    "$token" "$pod_uid" "$arch" "$AGENT_VERSION"
  [ -n "$instance_id" ] && printf ',"instanceId":"%s"' "$instance_id"
  [ -n "$pub_key" ] && printf ',"publicKey":"%s"' "$pub_key"
  printf '}'
} >"$work/bootstrap.json"
token=

bundle="$work/bundle"
attempt=0
while :; do
  attempt=$((attempt + 1))
  code=$(http boot POST "$base_url/v1/bootstrap" "$bundle" "$work/bootstrap.json")
  case $code in
    200) break ;;
    000 | 429 | 5??)
      [ "$attempt" -ge 6 ] && die "bootstrap failed after $attempt attempts (last HTTP status $code)"
      log "bootstrap: endpoint answered $code; retrying in $((attempt * 5))s"
      sleep $((attempt * 5)) ;;
    *) die "bootstrap refused (HTTP $code): $(head -c 500 "$bundle" 2>/dev/null)" ;;
  esac
done
rm -f "$work/bootstrap.json"

# ---- read the bundle: "<key> <base64>" lines ----------------------------------------------
set --
wstunnel_url= wstunnel_sha= wstunnel_format= credential= key_source=
: >"$work/wstunnel.args"
: >"$work/wstunnel.env"
: >"$work/pod.env"
while read -r key value; do
  case $key in
    wireproxy_conf) b64d "$value" >"$work/wireproxy.tmpl" ;;
    wireproxy_url) wireproxy_url=$(b64d "$value") ;;
    wireproxy_sha256) wireproxy_sha=$(b64d "$value") ;;
    wireproxy_format) wireproxy_format=$(b64d "$value") ;;
    wstunnel_url) wstunnel_url=$(b64d "$value") ;;
    wstunnel_sha256) wstunnel_sha=$(b64d "$value") ;;
    wstunnel_format) wstunnel_format=$(b64d "$value") ;;
    wstunnel_arg) printf '%s\n' "$value" >>"$work/wstunnel.args" ;;
    wstunnel_env) printf '%s\n' "$value" >>"$work/wstunnel.env" ;;
    key_source) key_source=$(b64d "$value") ;;
    health_port) health_port=$(b64d "$value") ;;
    ready_timeout) ready_timeout=$(b64d "$value") ;;
    alive_interval) alive_interval=$(b64d "$value") ;;
    deadman_after) deadman_after=$(b64d "$value") ;;
    restart_policy) restart_policy=$(b64d "$value") ;;
    credential) credential=$(b64d "$value") ;;
    arg) set -- "$@" "$(b64d "$value")" ;;
    # The pod's env is applied to the workload only (see run_workload): exported here it
    # would also steer the agent's own curl (a pod's HTTPS_PROXY, for one).
    env) printf '%s\n' "$value" >>"$work/pod.env" ;;
  esac
done <"$bundle"
rm -f "$bundle"
[ -n "$credential" ] || die "bootstrap answer has no status credential"

# ---- reporting ----------------------------------------------------------------------------
report_attempts=5
json_text() { printf '%s' "$1" | tr -d '"\\' | tr '\n\r\t' '   ' | cut -c 1-500; }

# report STATE [EXIT_CODE] [REASON]: best effort, a few tries; never fatal.
report() {
  _body="{\"podUid\":\"$pod_uid\",\"state\":\"$1\""
  [ -n "${2:-}" ] && _body="$_body,\"exitCode\":$2"
  [ -n "${3:-}" ] && _body="$_body,\"reason\":\"$(json_text "$3")\""
  printf '%s}' "$_body" >"$work/report.json"
  _try=0
  while [ "$_try" -lt "$report_attempts" ]; do
    _try=$((_try + 1))
    _code=$(http report POST "$base_url/v1/status" "$work/report.out" "$work/report.json" "$credential")
    case $_code in
      2??) return 0 ;;
      4??) log "status report '$1' refused (HTTP $_code)"; return 1 ;;
    esac
    sleep "$_try"
  done
  log "status report '$1' not delivered (endpoint unreachable)"
  return 1
}

fail() {
  log "error: $1"
  report failed "" "$1"
  stop_helpers
  exit 1
}

helper_pids=
stop_helpers() {
  for _pid in $helper_pids; do kill "$_pid" 2>/dev/null; done
  helper_pids=
}

# ---- binaries -----------------------------------------------------------------------------
# fetch NAME URL SHA256 FORMAT -> prints the path of the verified executable
fetch_binary() {
  [ -n "$3" ] || fail "refusing to run $1: no pinned SHA-256 for $2 (fill lib/tunnel/pins.ts at release)"
  case $2 in
    https://*) ;;
    http://*) [ "$insecure" = 1 ] || fail "refusing to download $1 over http:// ($2)" ;;
    *) fail "refusing to download $1 from $2 (not an https:// URL)" ;;
  esac
  _file="$work/$1.download"
  _code=$(http "dl-$1" GET "$2" "$_file")
  [ "$_code" = 200 ] || fail "downloading $1 from $2 failed (HTTP $_code)"
  _sum=$(sha256_of "$_file")
  if [ "$_sum" != "$3" ]; then
    rm -f "$_file"
    fail "checksum mismatch for $1 from $2: expected SHA-256 $3, got $_sum; refusing to run it"
  fi
  if [ "$4" = tar.gz ]; then
    mkdir -p "$work/$1.d" && tar -xzf "$_file" -C "$work/$1.d" || fail "cannot unpack $1 archive"
    _bin=$(find "$work/$1.d" -type f -name "$1" | head -n 1)
    [ -n "$_bin" ] || fail "$1 archive from $2 holds no file named $1"
    mv "$_bin" "$work/$1" && rm -rf "$work/$1.d" "$_file"
  else
    mv "$_file" "$work/$1"
  fi
  chmod 700 "$work/$1"
  printf '%s' "$work/$1"
}

wireproxy_bin=$(fetch_binary wireproxy "$wireproxy_url" "$wireproxy_sha" "$wireproxy_format") || exit 1
log "wireproxy verified (sha256 $wireproxy_sha)"

# ---- tunnel -------------------------------------------------------------------------------
if [ -n "$wstunnel_url" ]; then
  wstunnel_bin=$(fetch_binary wstunnel "$wstunnel_url" "$wstunnel_sha" "$wstunnel_format") || exit 1
  log "wstunnel verified (sha256 $wstunnel_sha)"
  (
    # The path prefix is a secret: exported inside this subshell only, never on a command line.
    while read -r value; do export "$(b64d "$value")"; done <"$work/wstunnel.env"
    set --
    while read -r value; do set -- "$@" "$(b64d "$value")"; done <"$work/wstunnel.args"
    exec "$wstunnel_bin" "$@"
  ) &
  helper_pids="$helper_pids $!"
fi
rm -f "$work/wstunnel.env"

# Put the private key into the config with shell builtins only (no key in any argv).
while IFS= read -r line; do
  if [ "$line" = "PrivateKey = $PLACEHOLDER" ]; then
    [ -n "$priv_key" ] || fail "the endpoint expected an agent-generated key but none was made"
    printf 'PrivateKey = %s\n' "$priv_key"
  else
    printf '%s\n' "$line"
  fi
done <"$work/wireproxy.tmpl" >"$work/wireproxy.conf"
rm -f "$work/wireproxy.tmpl"
priv_key=

"$wireproxy_bin" -s -c "$work/wireproxy.conf" -i "127.0.0.1:${health_port:-9080}" &
wireproxy_pid=$!
helper_pids="$helper_pids $wireproxy_pid"

waited=0
while :; do
  kill -0 "$wireproxy_pid" 2>/dev/null || fail "wireproxy exited during start-up"
  # The health server is local plain HTTP; probe it directly, not through the endpoint policy.
  if [ "$http_client" = curl ]; then
    ready=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:${health_port:-9080}/readyz" 2>/dev/null)
  else
    ready=$(wget -q -S -O /dev/null --timeout=3 --tries=1 "http://127.0.0.1:${health_port:-9080}/readyz" 2>&1 | awk '/^ *HTTP\//{c=$2} END{print c}')
  fi
  [ "$ready" = 200 ] && break
  [ "$waited" -ge "${ready_timeout:-120}" ] && fail "tunnel not ready after ${ready_timeout:-120}s (gateway unreachable?)"
  sleep 1
  waited=$((waited + 1))
done
# wireproxy has read its config: the key need not stay on disk.
rm -f "$work/wireproxy.conf"
log "tunnel ready"

# ---- dead-man's switch --------------------------------------------------------------------
# A background loop asks the endpoint whether the pod is still wanted. "Gone" (alive:false,
# 401, 404, 410), or no answer for deadman_after seconds, stops the agent: it signals the
# main shell, which stops the workload and exits so the provider stops the instance.
agent_pid=$$
(
  last_ok=$(date +%s)
  while :; do
    sleep "${alive_interval:-60}"
    code=$(http alive GET "$base_url/v1/pod-alive?podUid=$pod_uid" "$work/alive.out" "" "$credential")
    now=$(date +%s)
    case $code in
      200)
        last_ok=$now
        if grep -q '"alive":false' "$work/alive.out"; then
          echo "the control plane says this pod is gone" >"$work/deadman"
          kill -TERM "$agent_pid"; exit 0
        fi ;;
      401 | 404 | 410)
        echo "the control plane no longer knows this pod (HTTP $code)" >"$work/deadman"
        kill -TERM "$agent_pid"; exit 0 ;;
      *)
        if [ $((now - last_ok)) -ge "${deadman_after:-1800}" ]; then
          echo "control plane unreachable for $((now - last_ok))s" >"$work/deadman"
          kill -TERM "$agent_pid"; exit 0
        fi ;;
    esac
  done
) &
watchdog_pid=$!
helper_pids="$helper_pids $watchdog_pid"

# ---- workload -----------------------------------------------------------------------------
[ "$#" -gt 0 ] || fail "the pod has no command to run"
child=
got_signal=
stop_requested=
# POSIX shells start background jobs with SIGINT ignored (and it cannot be un-ignored), so
# SIGINT is passed on as SIGTERM, which every workload can receive.
forward() {
  got_signal=1
  stop_requested=1
  [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
}
trap forward TERM INT

(
  while read -r value; do
    pair=$(b64d "$value")
    case ${pair%%=*} in
      '' | *[!A-Za-z0-9_]* | [0-9]*) log "skipping env entry with an invalid name" ;;
      *) export "$pair" ;;
    esac
  done <"$work/pod.env"
  trap - TERM INT
  exec "$@"
) &
child=$!
# A signal that came before the child's pid was known is passed on now.
[ -n "$stop_requested" ] && kill -TERM "$child" 2>/dev/null
report started || true
while :; do
  got_signal=
  wait "$child"
  code=$?
  [ -n "$got_signal" ] && continue
  break
done
child=
if [ -f "$work/deadman" ]; then
  reason=$(cat "$work/deadman")
  log "stopping: $reason"
  # Unreachable for that long already: one last try, not a minute of retries.
  case $reason in 'control plane unreachable'*) report_attempts=1 ;; esac
  report failed "" "stopped by the dead-man's switch: $reason" || true
  stop_helpers
  exit 1
fi
# Whatever the restartPolicy, the container's end is reported and the agent exits: the
# control plane destroys this instance (billing stops) and, when the policy asks for a
# restart, rents a new machine (DESIGN §4), so a restart never runs on a half-known host.
log "command exited with code $code (restartPolicy ${restart_policy:-Never}: the control plane decides what follows)"
report exited "$code" || true
stop_helpers
exit "$code"
