module anex.local/agent-build

go 1.26

tool github.com/pufferffish/wireproxy/cmd/wireproxy

// suah.dev is not reachable through the Go module proxy in this environment; the stub is a
// no-op exactly like upstream on Linux (see stubs/protect/protect.go).
replace suah.dev/protect => ./stubs/protect

// No Landlock sandbox: wireproxy's lockNetwork() grants [TCPClientTunnel] listeners a
// connect right where bind is needed, so with a Landlock-enforcing go-landlock they fail with
// `bind: permission denied` on Linux >= 6.7. The agent relies on [TCPClientTunnel]
// (GW_TUNNEL_*), so anex links a no-op instead (stubs/landlock). Trade-off: no file-read
// sandbox either; see docs/adr/0008-self-built-agent-binaries.md.
replace github.com/landlock-lsm/go-landlock => ./stubs/landlock

require github.com/creack/pty v1.1.24

require (
	github.com/MakeNowJust/heredoc/v2 v2.0.1 // indirect
	github.com/akamensky/argparse v1.4.0 // indirect
	github.com/go-ini/ini v1.67.0 // indirect
	github.com/google/btree v1.1.2 // indirect
	github.com/landlock-lsm/go-landlock v0.0.0-20240216195629-efb66220540a // indirect
	github.com/pufferffish/wireproxy v1.0.9 // indirect
	github.com/sourcegraph/conc v0.3.0 // indirect
	github.com/things-go/go-socks5 v0.0.5 // indirect
	golang.org/x/crypto v0.21.0 // indirect
	golang.org/x/net v0.23.0 // indirect
	golang.org/x/sys v0.18.0 // indirect
	golang.org/x/time v0.5.0 // indirect
	golang.zx2c4.com/wintun v0.0.0-20230126152724-0fa3db229ce2 // indirect
	golang.zx2c4.com/wireguard v0.0.0-20231211153847-12269c276173 // indirect
	gvisor.dev/gvisor v0.0.0-20230927004350-cbd86285d259 // indirect
	suah.dev/protect v1.2.3 // indirect
)
