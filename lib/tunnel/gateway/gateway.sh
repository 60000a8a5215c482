#!/bin/sh
# anex cluster gateway: a user-space WireGuard server (wireguard-go) whose peers, and what
# each peer may reach, follow the agent endpoint's desired peer set live
# (docs/adr/0001-gateway-peer-sync.md, docs/adr/0020-fail-closed-gateway.md).
#
#   setup   create wg0 with wireguard-go, set the key and address, SNAT the VPN range to
#           the pod's own address (the cluster has no route back to it), clamp the MSS, and
#           close the doors: FORWARD policy DROP, peer-to-peer and protected destinations
#           (cloud metadata, the API server, node networks) refused, INPUT from the tunnel
#           refused but for pings to the gateway's address, and no peer allowed anything
#           until the first sync
#   loop    every ANEX_SYNC_INTERVAL seconds GET /v1/peers?format=wg from the agent endpoint
#           (https only) and apply it: the per-peer rules (iptables-restore of one chain,
#           atomic) and the keys (`wg syncconf`, which changes only what differs: existing
#           sessions survive). Recorded as applied only when both succeeded; a failure is
#           logged and retried at the next interval. When the endpoint cannot be reached the
#           current peers and rules stay as they are.
#
# Per peer (its /32 as source), the gateway accepts TCP to each `# anex-allow <dest> <port>`
# the endpoint lists under the peer (names resolved here, every sync), DNS to the cluster DNS,
# and refuses everything else.
#
# Environment:
#   ANEX_AGENT_URL         agent endpoint base URL (https://…)
#   ANEX_VPN_CIDR          VPN range, e.g. 10.250.0.0/16
#   ANEX_GATEWAY_ADDRESS   the gateway's tunnel address (first host of the range)
#   ANEX_WG_PORT           UDP listen port (default 51820)
#   ANEX_MTU               default 1380
#   ANEX_SYNC_INTERVAL     seconds between syncs (default 10)
#   ANEX_CLUSTER_DNS       comma-separated DNS server addresses peers may query (default: the
#                          nameservers of /etc/resolv.conf, the cluster DNS in a pod)
#   ANEX_ALLOWED_CIDRS     optional ceiling: comma-separated ranges no peer rule may go beyond
#   ANEX_API_SERVER_CIDRS  the API server's addresses (besides $KUBERNETES_SERVICE_HOST)
#   ANEX_NODE_CIDRS        the nodes' networks
#   ANEX_ALLOW_API_SERVER, ANEX_ALLOW_NODES, ANEX_ALLOW_METADATA
#                          "true" lets a peer's own rules reach those (default: refused even
#                          when a peer's rules would allow them)
#   ANEX_SECRETS_DIR       holds wg-private-key and peers-token (default /secrets)
#   ANEX_GATEWAY_STEP      setup | sync-once | loop | all (default all)
#   ANEX_KUBELET_ADDRESS   optional <ipv4>:<port> of the kubelet API beside the gateway, sent
#                          with each sync (X-Anex-Kubelet-Address) so the nodes advertise it
#   ANEX_WG                the wg binary (default wg)
set -eu

url=${ANEX_AGENT_URL:?ANEX_AGENT_URL is required}
cidr=${ANEX_VPN_CIDR:?ANEX_VPN_CIDR is required}
address=${ANEX_GATEWAY_ADDRESS:?ANEX_GATEWAY_ADDRESS is required}
port=${ANEX_WG_PORT:-51820}
mtu=${ANEX_MTU:-1380}
interval=${ANEX_SYNC_INTERVAL:-10}
secrets=${ANEX_SECRETS_DIR:-/secrets}
step=${ANEX_GATEWAY_STEP:-all}
iface=${ANEX_WG_INTERFACE:-wg0}
allowed=${ANEX_ALLOWED_CIDRS:-}
wg=${ANEX_WG:-wg}
state=${ANEX_STATE_DIR:-/run/anex-gateway}
# Cloud metadata: link-local (AWS, GCP, Azure IMDS, OpenStack), Alibaba, Azure WireServer.
metadata='169.254.0.0/16,100.100.100.200/32,168.63.129.16/32'
umask 077

log() { printf 'anex-gateway: %s\n' "$*" >&2; }

case $url in
  https://*) ;;
  *) log "ANEX_AGENT_URL must be an https:// URL: the peer list and its token never travel in clear"; exit 2 ;;
esac
mkdir -p "$state"

# Commas to spaces, for `for x in $(list …)`.
list() { printf '%s' "$1" | tr ',' ' '; }

cluster_dns() {
  if [ -n "${ANEX_CLUSTER_DNS:-}" ]; then
    list "$ANEX_CLUSTER_DNS"
  else
    awk '$1 == "nameserver" && $2 ~ /^[0-9.]+$/ { printf "%s ", $2 }' /etc/resolv.conf 2>/dev/null || true
  fi
}

# The fixed rules: our own chains, jumped to from FORWARD and INPUT, replaced as a whole.
base_rules() {
  printf '*filter\n:FORWARD DROP [0:0]\n:ANEX-FORWARD - [0:0]\n:ANEX-PROTECTED - [0:0]\n'
  printf ':ANEX-CEILING - [0:0]\n:ANEX-INPUT - [0:0]\n'
  # Replies to a peer's allowed connections; a peer's own packets always meet its rules, so a
  # removed destination stops at once, established or not.
  printf -- '-A ANEX-FORWARD -o %s -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n' "$iface"
  # Agents never talk to each other through the gateway.
  printf -- '-A ANEX-FORWARD -i %s -o %s -j DROP\n' "$iface" "$iface"
  printf -- '-A ANEX-FORWARD -i %s -j ANEX-PROTECTED\n' "$iface"
  printf -- '-A ANEX-FORWARD -i %s -j ANEX-CEILING\n' "$iface"
  printf -- '-A ANEX-FORWARD -i %s -j ANEX-PEERS\n' "$iface"
  protected=''
  [ "${ANEX_ALLOW_METADATA:-}" = true ] || protected="$metadata"
  if [ "${ANEX_ALLOW_API_SERVER:-}" != true ]; then
    protected="$protected,${ANEX_API_SERVER_CIDRS:-}"
    case ${KUBERNETES_SERVICE_HOST:-} in
      *[!0-9.]* | '') ;;
      *) protected="$protected,$KUBERNETES_SERVICE_HOST/32" ;;
    esac
  fi
  [ "${ANEX_ALLOW_NODES:-}" = true ] || protected="$protected,${ANEX_NODE_CIDRS:-}"
  for range in $(list "$protected"); do
    printf -- '-A ANEX-PROTECTED -d %s -j REJECT --reject-with icmp-admin-prohibited\n' "$range"
  done
  if [ -n "$allowed" ]; then
    for range in $(list "$allowed"); do
      printf -- '-A ANEX-CEILING -d %s -j RETURN\n' "$range"
    done
    for dns in $(cluster_dns); do
      printf -- '-A ANEX-CEILING -d %s/32 -j RETURN\n' "$dns"
    done
    printf -- '-A ANEX-CEILING -j REJECT --reject-with icmp-admin-prohibited\n'
  fi
  # The tunnel may reach the gateway itself only to ping its address (the agent's check):
  # not the wstunnel listener, not anything else the pod serves.
  printf -- '-A ANEX-INPUT -i %s -d %s -p icmp --icmp-type echo-request -j ACCEPT\n' "$iface" "$address"
  # Replies to what the gateway itself opened (an operator's check from the pod); a peer
  # cannot start anything with them.
  printf -- '-A ANEX-INPUT -i %s -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n' "$iface"
  printf -- '-A ANEX-INPUT -i %s -j DROP\n' "$iface"
  printf 'COMMIT\n'
}

setup() {
  if [ ! -c /dev/net/tun ]; then
    mkdir -p /dev/net && mknod /dev/net/tun c 10 200
  fi
  # Closed before the interface exists: no peer is allowed anything until the first sync.
  iptables -N ANEX-PEERS 2>/dev/null || true
  printf '*filter\n:ANEX-PEERS - [0:0]\n-A ANEX-PEERS -j REJECT --reject-with icmp-admin-prohibited\nCOMMIT\n' |
    iptables-restore --noflush
  base_rules | iptables-restore --noflush
  iptables -C FORWARD -j ANEX-FORWARD 2>/dev/null || iptables -I FORWARD 1 -j ANEX-FORWARD
  iptables -C INPUT -j ANEX-INPUT 2>/dev/null || iptables -I INPUT 1 -j ANEX-INPUT
  if ! ip link show "$iface" >/dev/null 2>&1; then
    WG_PROCESS_FOREGROUND=1 wireguard-go "$iface" &
    tries=0
    until ip link show "$iface" >/dev/null 2>&1; do
      tries=$((tries + 1))
      [ "$tries" -lt 50 ] || { log "wireguard-go did not create $iface"; exit 1; }
      sleep 0.2
    done
  fi
  "$wg" set "$iface" private-key "$secrets/wg-private-key" listen-port "$port"
  ip address replace "$address/${cidr#*/}" dev "$iface"
  ip link set "$iface" mtu "$mtu" up
  # Without SNAT replies never come back: the pod network has no route to the VPN range.
  iptables -t nat -C POSTROUTING -s "$cidr" ! -o "$iface" -j MASQUERADE 2>/dev/null ||
    iptables -t nat -A POSTROUTING -s "$cidr" ! -o "$iface" -j MASQUERADE
  iptables -t mangle -C FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu 2>/dev/null ||
    iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
  rm -f "$state/wg.conf" "$state/rules"
  log "$iface up at $address, UDP $port; FORWARD closed until the first sync"
}

# IPv4 addresses of a name, space-separated (empty when it does not resolve). Each name is
# looked up once per sync, however many peers list it ($state/resolved holds this sync's).
resolve() {
  cached=$(awk -v n="$1" '$1 == n { $1 = ""; print; found = 1; exit } END { exit !found }' "$state/resolved" 2>/dev/null) &&
    { printf '%s\n' "$cached"; return; }
  ips=$({ getent ahostsv4 "$1" 2>/dev/null || getent hosts "$1" 2>/dev/null || true; } |
    awk '$1 ~ /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/ { print $1 }' | sort -u | tr '\n' ' ')
  printf '%s %s\n' "$1" "$ips" >>"$state/resolved"
  printf '%s\n' "$ips"
}

# The per-peer chain from the peer list: "<peer> <dest> <port>" triples, then DNS per peer.
render_rules() {
  dns=$(cluster_dns)
  : >"$state/resolved"
  printf '*filter\n:ANEX-PEERS - [0:0]\n'
  awk '
    /^\[Peer\]/ { peer = "" }
    /^AllowedIPs *=/ { split($0, kv, "="); gsub(/[ \t]/, "", kv[2]); peer = kv[2]; print peer, "dns", "53" }
    /^# anex-allow / && peer != "" { print peer, $3, $4 }
  ' "$1" | while read -r peer dest dport; do
    case $peer in *[!0-9./]* | '') continue ;; esac
    case $dport in *[!0-9]* | '') continue ;; esac
    if [ "$dest" = dns ]; then
      for d in $dns; do
        printf -- '-A ANEX-PEERS -s %s -d %s/32 -p udp --dport 53 -j ACCEPT\n' "$peer" "$d"
        printf -- '-A ANEX-PEERS -s %s -d %s/32 -p tcp --dport 53 -j ACCEPT\n' "$peer" "$d"
      done
      continue
    fi
    case $dest in
      *[!0-9./]*)
        case $dest in *[!A-Za-z0-9.-]* | -*) continue ;; esac
        targets=$(resolve "$dest")
        [ -n "$targets" ] || printf '# unresolved %s\n' "$dest"
        ;;
      *) targets=$dest ;;
    esac
    for t in $targets; do
      printf -- '-A ANEX-PEERS -s %s -d %s -p tcp --dport %s -j ACCEPT\n' "$peer" "$t" "$dport"
    done
  done
  printf -- '-A ANEX-PEERS -j REJECT --reject-with icmp-admin-prohibited\nCOMMIT\n'
}

# One sync: fetch the desired peers, render the device config and the per-peer rules, apply
# what changed. Applied state is recorded only after everything succeeded.
sync_once() {
  cfg="$state/curl.cfg"
  printf 'header = "Authorization: Bearer %s"\n' "$(cat "$secrets/peers-token")" >"$cfg"
  case ${ANEX_KUBELET_ADDRESS:-} in
    '') ;;
    *[!0-9.:]*) log "ANEX_KUBELET_ADDRESS is not <ipv4>:<port>; not sent" ;;
    *) printf 'header = "X-Anex-Kubelet-Address: %s"\n' "$ANEX_KUBELET_ADDRESS" >>"$cfg" ;;
  esac
  code=$(curl -sS --proto =https --tlsv1.2 -K "$cfg" --max-time 15 -o "$state/peers.new" -w '%{http_code}' \
    "$url/v1/peers?format=wg" 2>"$state/curl.err" || true)
  rm -f "$cfg"
  if [ "$code" != 200 ]; then
    log "peer list unavailable (HTTP ${code:-none}: $(head -c 200 "$state/curl.err")); keeping the current peers"
    return 1
  fi
  {
    printf '[Interface]\nPrivateKey = %s\nListenPort = %s\n\n' "$(cat "$secrets/wg-private-key")" "$port"
    cat "$state/peers.new"
  } >"$state/wg.conf.new"
  render_rules "$state/peers.new" >"$state/rules.new"
  if cmp -s "$state/wg.conf.new" "$state/wg.conf" 2>/dev/null && cmp -s "$state/rules.new" "$state/rules" 2>/dev/null; then
    rm -f "$state/wg.conf.new" "$state/rules.new"
    return 0
  fi
  # Rules first: a new peer is admitted with its rules already in place, and a removed one
  # loses them even if the key change below fails (both ways fail closed).
  if ! iptables-restore --noflush <"$state/rules.new" 2>"$state/apply.err"; then
    log "per-peer rules not applied, retrying next sync: $(head -c 300 "$state/apply.err")"
    rm -f "$state/wg.conf.new" "$state/rules.new"
    return 1
  fi
  if ! "$wg" syncconf "$iface" "$state/wg.conf.new" 2>"$state/apply.err"; then
    log "wg syncconf failed, retrying next sync: $(head -c 300 "$state/apply.err")"
    rm -f "$state/wg.conf.new" "$state/rules.new" "$state/rules"
    return 1
  fi
  mv "$state/wg.conf.new" "$state/wg.conf"
  mv "$state/rules.new" "$state/rules"
  unresolved=$(sed -n 's/^# unresolved //p' "$state/rules" | tr '\n' ' ')
  generation=$(($(cat "$state/generation" 2>/dev/null || echo 0) + 1))
  echo "$generation" >"$state/generation"
  log "applied generation $generation: $(grep -c '^\[Peer\]' "$state/wg.conf" || true) peers, $(grep -c -- '-j ACCEPT' "$state/rules" || true) rules${unresolved:+; unresolved: $unresolved}"
}

loop() {
  while :; do
    sync_once || true
    # Every sync, applied or not, counts: tests wait for "one sync interval" by this number.
    echo $(($(cat "$state/syncs" 2>/dev/null || echo 0) + 1)) >"$state/syncs"
    sleep "$interval"
  done
}

case $step in
  setup) setup ;;
  sync-once) sync_once ;;
  loop) loop ;;
  all) setup && loop ;;
  *) log "ANEX_GATEWAY_STEP must be setup, sync-once, loop or all (got $step)"; exit 2 ;;
esac
