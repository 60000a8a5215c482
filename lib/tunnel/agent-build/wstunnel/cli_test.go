package main

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParseTunnelSpec(t *testing.T) {
	good := []struct {
		arg     string
		bind    string
		host    string
		port    uint16
		timeout time.Duration
	}{
		{"udp://51820:127.0.0.1:51820?timeout_sec=0", "127.0.0.1:51820", "127.0.0.1", 51820, 0},
		{"udp://127.0.0.1:51820:127.0.0.1:51820?timeout_sec=0", "127.0.0.1:51820", "127.0.0.1", 51820, 0},
		{"udp://0.0.0.0:1:localhost:2", "0.0.0.0:1", "localhost", 2, 30 * time.Second},
		{"udp://[::1]:1:[::1]:443?timeout_sec=10", "[::1]:1", "[::1]", 443, 10 * time.Second},
		{"udp://1:gw.example.com:443", "127.0.0.1:1", "gw.example.com", 443, 30 * time.Second},
	}
	for _, tc := range good {
		got, err := parseTunnelSpec(tc.arg)
		if err != nil {
			t.Errorf("%s: %v", tc.arg, err)
			continue
		}
		want := tunnelSpec{bind: netip.MustParseAddrPort(tc.bind), host: tc.host, port: tc.port, timeout: tc.timeout}
		if got != want {
			t.Errorf("%s: got %+v, want %+v", tc.arg, got, want)
		}
	}
	bad := map[string]string{
		"tcp://1:h:2":                   "only udp",
		"1:h:2":                         "missing udp://",
		"udp://x:h:2":                   "bad local port",
		"udp://70000:h:2":               "bad local port",
		"udp://1:h":                     "bad destination",
		"udp://1:h:99999":               "bad destination",
		"udp://1:h:2/path":              "bad destination",
		"udp://1:h:2?timeout_sec=abc":   "timeout_sec",
		"udp://1:h:2?timeout_sec=-1":    "timeout_sec",
		"udp://1:h:2?proxy_protocol":    "unknown option",
		"udp://[::1:1:h:2":              "IPv6 bind",
		"udp://[127.0.0.1]:1:h:2":       "IPv6 bind",
		"udp://127.0.0.1:51820:51820:x": "bad destination",
	}
	for arg, want := range bad {
		_, err := parseTunnelSpec(arg)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tunnelSpecForm) {
			t.Errorf("%s: error %v, want one containing %q and the accepted form", arg, err, want)
		}
	}
}

const secretPrefix = "s3cret-Prefix_42"

func env(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

func TestRunUsage(t *testing.T) {
	both := map[string]string{envClientPrefix: secretPrefix, envServerPrefix: secretPrefix}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string // in stdout+stderr
	}{
		{"version", []string{"--version"}, nil, 0, "anex-wstunnel " + version},
		{"client version", []string{"client", "--version"}, nil, 0, "anex-wstunnel "},
		{"help", []string{"--help"}, nil, 0, "usage: wstunnel client|server"},
		{"client help", []string{"client", "--help"}, nil, 0, "usage: wstunnel client"},
		{"server help", []string{"server", "-h"}, nil, 0, "usage: wstunnel server"},
		{"no command", nil, nil, 2, "usage:"},
		{"unknown command", []string{"frob"}, nil, 2, `unknown command "frob"`},
		{"server without restrict-to", []string{"server", "ws://127.0.0.1:0"}, both, 2, "refusing to start without --restrict-to"},
		{"server without prefix", []string{"server", "--restrict-to", "127.0.0.1:1", "ws://127.0.0.1:0"}, nil, 2, "refusing to start without a path prefix"},
		{"server bad restrict-to", []string{"server", "--restrict-to", "nope", "ws://127.0.0.1:0"}, both, 2, `--restrict-to "nope": want HOST:PORT`},
		{"server wss without cert", []string{"server", "--restrict-to", "127.0.0.1:1", "wss://127.0.0.1:0"}, both, 2, "--tls-certificate"},
		{"server bad URL", []string{"server", "--restrict-to", "127.0.0.1:1", "http://x:1"}, both, 2, "want ws://ADDR:PORT"},
		{"server bad env prefix", []string{"server", "--restrict-to", "127.0.0.1:1", "ws://127.0.0.1:0"}, map[string]string{envServerPrefix: "a/" + secretPrefix}, 2, "value not shown"},
		{"client without -L", []string{"client", "ws://h"}, both, 2, "want at least one -L"},
		{"client two URLs", []string{"client", "-L", "udp://1:h:2", "ws://h", "ws://i"}, both, 2, "exactly one server URL"},
		{"client URL with path", []string{"client", "-L", "udp://1:h:2", "wss://h/" + secretPrefix}, nil, 2, "no path"},
		{"client bad -L", []string{"client", "-L", "tcp://1:h:2", "wss://h"}, both, 2, "only udp"},
		{"client unknown flag", []string{"client", "--bogus", "wss://h"}, both, 2, "-bogus"},
		{"client bad env prefix", []string{"client", "-L", "udp://1:h:2", "wss://h"}, map[string]string{envClientPrefix: secretPrefix + " x"}, 2, envClientPrefix},
		{"client empty -P", []string{"client", "-P", "", "-L", "udp://1:h:2", "wss://h"}, nil, 2, "-P/--http-upgrade-path-prefix"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tc.args, env(tc.env), &out, &errOut)
			all := out.String() + errOut.String()
			if code != tc.code || !strings.Contains(all, tc.want) {
				t.Errorf("exit %d, output:\n%s\nwant exit %d and %q", code, all, tc.code, tc.want)
			}
			if strings.Contains(all, secretPrefix) {
				t.Errorf("output shows the path prefix:\n%s", all)
			}
		})
	}
}

// The command lines anex's TypeScript builds (lib/tunnel/wstunnel.ts, gateway/manifests.ts).
func TestParseAnexCommandLines(t *testing.T) {
	c, err := parseClientArgs([]string{"--tls-verify-certificate", "-L", "udp://127.0.0.1:51820:127.0.0.1:51820?timeout_sec=0", "wss://gw.example.com"},
		env(map[string]string{envClientPrefix: secretPrefix}))
	if err != nil {
		t.Fatal(err)
	}
	if c.prefix != secretPrefix || c.server.addr != "gw.example.com:443" || !c.server.tls || len(c.tunnels) != 1 || c.tunnels[0].remote() != "127.0.0.1:51820" {
		t.Errorf("client config %+v", c)
	}
	if c, err = parseClientArgs([]string{"-L", "udp://1:h:2", "ws://gw:8080"}, env(nil)); err != nil || c.prefix != "v1" || c.server.addr != "gw:8080" {
		t.Errorf("default prefix: %+v, %v", c, err)
	}
	// Flags after the URL, as clap allows, and -P over the environment.
	if c, err = parseClientArgs([]string{"wss://gw", "-P", "flagprefix", "-L", "udp://1:h:2"}, env(map[string]string{envClientPrefix: secretPrefix})); err != nil || c.prefix != "flagprefix" {
		t.Errorf("interleaved: %+v, %v", c, err)
	}
	s, err := parseServerArgs([]string{"--restrict-to", "127.0.0.1:51820", "--tls-certificate", "/tls/tls.crt", "--tls-private-key", "/tls/tls.key", "wss://[::]:8443"},
		env(map[string]string{envServerPrefix: secretPrefix}))
	if err != nil {
		t.Fatal(err)
	}
	if s.listen.addr != "[::]:8443" || !s.listen.tls || len(s.restrictTo) != 1 || s.restrictTo[0].port != 51820 || len(s.prefixes) != 1 || s.prefixes[0] != secretPrefix {
		t.Errorf("server config %+v", s)
	}
	if s, err = parseServerArgs([]string{"--restrict-to", "127.0.0.1:51820", "-r", "a", "--restrict-http-upgrade-path-prefix", "b", "ws://0.0.0.0:8080"}, env(nil)); err != nil || len(s.prefixes) != 2 {
		t.Errorf("repeated -r: %+v, %v", s, err)
	}
}

func TestRestrictionTarget(t *testing.T) {
	tests := []struct {
		restrict, host string
		port           uint16
		want           string
	}{
		{"127.0.0.1:51820", "127.0.0.1", 51820, "127.0.0.1:51820"},
		{"127.0.0.1:51820", "localhost", 51820, ""},
		{"127.0.0.1:51820", "127.0.0.1", 51821, ""},
		{"localhost:51820", "localhost", 51820, "localhost:51820"},
		{"localhost:51820", "LOCALHOST", 51820, "localhost:51820"},
		{"localhost:51820", "127.0.0.1", 51820, ""},
		{"[::1]:53", "[::1]", 53, "[::1]:53"},
		{"[::1]:53", "[::2]", 53, ""},
		{"::1:53", "[::1]", 53, "[::1]:53"},
		{"10.0.0.1:53", "[::ffff:10.0.0.1]", 53, ""},
	}
	for _, tc := range tests {
		r, err := parseRestriction(tc.restrict)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.target(tc.host, tc.port); got != tc.want {
			t.Errorf("--restrict-to %s, request %s:%d: target %q, want %q", tc.restrict, tc.host, tc.port, got, tc.want)
		}
	}
}

// The cases of upstream's extract_path_prefix tests.
func TestPathPrefix(t *testing.T) {
	tests := []struct {
		path, want string
		ok         bool
	}{
		{"/prefix/events", "prefix", true},
		{"/prefix/a/events", "prefix", true},
		{"/prefix/a/b/events", "prefix", true},
		{"/prefix/events/", "", false},
		{"/prefix", "", false},
		{"/prefixevents", "", false},
		{"/prefix/event", "", false},
		{"prefix/events", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		got, ok := pathPrefix(tc.path)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("pathPrefix(%q) = %q, %v; want %q, %v", tc.path, got, ok, tc.want, tc.ok)
		}
	}
}

func TestBackoff(t *testing.T) {
	for failures, want := range []time.Duration{0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second} {
		if got := backoff(failures); got != want {
			t.Errorf("backoff(%d) = %s, want %s", failures, got, want)
		}
	}
	if got := backoff(1000); got != maxBackoff {
		t.Errorf("backoff(1000) = %s", got)
	}
}
