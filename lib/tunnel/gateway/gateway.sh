#!/bin/sh
# anex cluster gateway: a user-space WireGuard server (wireguard-go) whose peers follow the
# agent endpoint's desired peer set live (docs/adr/0001-gateway-peer-sync.md).
#
#   setup   create wg0 with wireguard-go, set the key and address, SNAT the VPN range to
#           the pod's own address (the cluster has no route back to it), clamp the MSS, drop
#           peer-to-peer traffic and link-local destinations, and apply the allow-list
#   loop    every ANEX_SYNC_INTERVAL seconds GET /v1/peers?format=wg from the agent endpoint
#           and apply it with `wg syncconf`, which changes only what differs: existing
#           sessions survive, new agents are admitted, ended pods are removed. When the
#           endpoint cannot be reached the current peers stay as they are.
#
# Environment:
#   ANEX_AGENT_URL         agent endpoint base URL (https://…)
#   ANEX_VPN_CIDR          VPN range, e.g. 10.250.0.0/16
#   ANEX_GATEWAY_ADDRESS   the gateway's tunnel address (first host of the range)
#   ANEX_WG_PORT           UDP listen port (default 51820)
#   ANEX_MTU               default 1380
#   ANEX_SYNC_INTERVAL     seconds between syncs (default 10)
#   ANEX_ALLOWED_CIDRS     comma-separated ranges agents may reach (default: any but 169.254/16)
#   ANEX_SECRETS_DIR       holds wg-private-key and peers-token (default /secrets)
#   ANEX_GATEWAY_STEP      setup | sync-once | loop | all (default all)
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
umask 077
mkdir -p "$state"

log() { printf 'anex-gateway: %s\n' "$*" >&2; }

setup() {
  if [ ! -c /dev/net/tun ]; then
    mkdir -p /dev/net && mknod /dev/net/tun c 10 200
  fi
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
  # Agents never talk to each other through the gateway.
  iptables -C FORWARD -i "$iface" -o "$iface" -j DROP 2>/dev/null ||
    iptables -A FORWARD -i "$iface" -o "$iface" -j DROP
  # Never the node's link-local services (cloud metadata holds the node's credentials).
  iptables -C FORWARD -i "$iface" -d 169.254.0.0/16 -j REJECT 2>/dev/null ||
    iptables -A FORWARD -i "$iface" -d 169.254.0.0/16 -j REJECT
  # With an allow-list, agents reach only those ranges (Service and Pod CIDRs, say); not
  # the internet through the cluster, nor the nodes' own networks.
  if [ -n "$allowed" ]; then
    for range in $(printf '%s' "$allowed" | tr ',' ' '); do
      iptables -C FORWARD -i "$iface" -d "$range" -j ACCEPT 2>/dev/null ||
        iptables -A FORWARD -i "$iface" -d "$range" -j ACCEPT
    done
    iptables -C FORWARD -i "$iface" -j REJECT 2>/dev/null || iptables -A FORWARD -i "$iface" -j REJECT
  fi
  log "$iface up at $address, UDP $port"
}

# One sync: fetch the desired peers, render the full device config, apply it when it changed.
sync_once() {
  cfg="$state/curl.cfg"
  printf 'header = "Authorization: Bearer %s"\n' "$(cat "$secrets/peers-token")" >"$cfg"
  code=$(curl -sS --proto =https,http -K "$cfg" --max-time 15 -o "$state/peers.new" -w '%{http_code}' \
    "$url/v1/peers?format=wg" 2>"$state/curl.err" || true)
  rm -f "$cfg"
  if [ "$code" != 200 ]; then
    log "peer list unavailable (HTTP ${code:-none}); keeping the current peers"
    return 1
  fi
  {
    printf '[Interface]\nPrivateKey = %s\nListenPort = %s\n\n' "$(cat "$secrets/wg-private-key")" "$port"
    cat "$state/peers.new"
  } >"$state/wg.conf.new"
  if cmp -s "$state/wg.conf.new" "$state/wg.conf" 2>/dev/null; then
    rm -f "$state/wg.conf.new"
    return 0
  fi
  "$wg" syncconf "$iface" "$state/wg.conf.new"
  mv "$state/wg.conf.new" "$state/wg.conf"
  log "peers applied: $(grep -c '^\[Peer\]' "$state/wg.conf" || true)"
}

loop() {
  while :; do
    sync_once || true
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
