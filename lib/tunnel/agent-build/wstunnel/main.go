// Command wstunnel is anex's own implementation of the subset of the wstunnel protocol
// (github.com/erebe/wstunnel v10) that anex uses: WireGuard's UDP carried over a WebSocket,
// from a rented container where UDP is blocked (the client) to the cluster gateway (the server).
//
// Compatible with upstream v10, so either side may be upstream's binary:
//   - the upgrade request: GET /<prefix>/events, Sec-WebSocket-Protocol
//     "v1, authorization.bearer.<JWT>", HS256 JWT with claims
//     {"id":"<uuid v4>","p":{"Udp":{"timeout":…}},"r":"<host>","rp":<port>}, answered by
//     101 with Sec-WebSocket-Protocol: v1;
//   - one UDP datagram per binary WebSocket message, both ways; pings every 30 s;
//   - frames from the client are not masked and the server does not require a mask, because
//     that is upstream's default (--websocket-mask-frame off), not RFC 6455 (see ws.go);
//   - the server's checks: path /<prefix>/…events, prefix in the allowed set, JWT decoded
//     without verification, destination equal to a --restrict-to literal;
//   - the CLI flags anex passes, with upstream's spelling, defaults and environment variables.
//
// Different on purpose:
//   - the client always verifies the server's TLS certificate (system roots, SSL_CERT_FILE);
//     --tls-verify-certificate is accepted and changes nothing;
//   - the server refuses to start without --restrict-to and without a path prefix (upstream
//     would then forward anywhere and accept reverse tunnels), accepts only Udp tunnels,
//     answers a refused destination or protocol with 403 (upstream: 400) and caps concurrent
//     tunnels (503 beyond);
//   - no HTTP/2 transport, no reverse tunnels, no TCP/SOCKS/stdio, no self-signed default
//     certificate, no proxy; an unparsable timeout_sec is an error, not 30 s.
//
// Compatibility with the upstream binary was established by reading its source (v10.6.2 and
// the fastwebsockets 0.10 framing it uses), not by running it: it could not be built here.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// build.sh reads this line: keep its form.
const version = "10.6.2-compat.1"

const (
	envClientPrefix = "WSTUNNEL_HTTP_UPGRADE_PATH_PREFIX"
	envServerPrefix = "WSTUNNEL_RESTRICT_HTTP_UPGRADE_PATH_PREFIX"

	topUsage = `usage: wstunnel client|server [options] URL
       wstunnel --version
Run 'wstunnel client --help' or 'wstunnel server --help' for the options.
`
	clientUsage = `usage: wstunnel client [--tls-verify-certificate] [-P|--http-upgrade-path-prefix PREFIX]
                       -L|--local-to-remote 'udp://[BIND:]PORT:HOST:PORT[?timeout_sec=N]' [-L ...]
                       wss://HOST[:PORT]
  Listens on UDP BIND:PORT (BIND defaults to 127.0.0.1) and sends each local peer's datagrams
  through its own WebSocket to the server, which forwards them to HOST:PORT (which must equal
  one of the server's --restrict-to). timeout_sec closes an idle peer (default 30, 0 = never).
  PREFIX defaults to $WSTUNNEL_HTTP_UPGRADE_PATH_PREFIX, then to v1; it is a secret, prefer
  the environment. The server certificate is always verified (system roots; SSL_CERT_FILE);
  --tls-verify-certificate is accepted for compatibility. ws:// is for tests.
`
	serverUsage = `usage: wstunnel server --restrict-to HOST:PORT [--restrict-to ...]
                       [-r|--restrict-http-upgrade-path-prefix PREFIX ...]
                       [--tls-certificate FILE --tls-private-key FILE] wss://ADDR:PORT|ws://ADDR:PORT
  Accepts UDP tunnels only to a --restrict-to destination (exact literal: localhost is not
  127.0.0.1) and only on an allowed path prefix (default $WSTUNNEL_RESTRICT_HTTP_UPGRADE_PATH_PREFIX).
  Both are required. wss:// requires the certificate and key files (reloaded when they change).
`
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program minus the process: 0 done, 1 failed, 2 usage error.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	logger := log.New(stderr, "wstunnel: ", log.LstdFlags|log.LUTC)
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "--version", "-V", "version":
		fmt.Fprintln(stdout, "anex-wstunnel "+version)
		return 0
	case "--help", "-h", "help":
		fmt.Fprint(stdout, topUsage)
		return 0
	case "client":
		var cfg clientConfig
		if cfg, err = parseClientArgs(rest, getenv); err == nil {
			cfg.log = logger
			err = runClient(ctx, cfg)
		} else {
			return usageExit(err, "client", clientUsage, stdout, stderr)
		}
	case "server":
		var cfg serverConfig
		if cfg, err = parseServerArgs(rest, getenv); err == nil {
			cfg.log = logger
			err = runServer(ctx, cfg)
		} else {
			return usageExit(err, "server", serverUsage, stdout, stderr)
		}
	default:
		fmt.Fprintf(stderr, "wstunnel: unknown command %q: want client or server\n%s", cmd, topUsage)
		return 2
	}
	if err != nil {
		logger.Printf("%s: %v", args[0], err)
		return 1
	}
	logger.Printf("%s: stopped", args[0])
	return 0
}

var errVersion = errors.New("version requested")

func usageExit(err error, cmd, usage string, stdout, stderr io.Writer) int {
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return 0
	case errors.Is(err, errVersion):
		fmt.Fprintln(stdout, "anex-wstunnel "+version)
		return 0
	}
	fmt.Fprintf(stderr, "wstunnel %s: %v\n%s", cmd, err, usage)
	return 2
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// parseArgs lets flags come after positional arguments too, as upstream's clap does, and
// returns the positional arguments.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard) // errors are reported once, by usageExit
	showVersion := fs.Bool("version", false, "print the version")
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if *showVersion {
			return nil, errVersion
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
}

func isSet(fs *flag.FlagSet, names ...string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		for _, n := range names {
			set = set || f.Name == n
		}
	})
	return set
}

// checkPrefix keeps the prefix one URL path segment that needs no escaping. The message never
// contains the value: it is a secret.
func checkPrefix(p, source string) error {
	const allowed = "-._~!$&'()*+,;=:@"
	bad := len(p) == 0 || len(p) > 256 || strings.ContainsFunc(p, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(allowed, r))
	})
	if bad {
		return fmt.Errorf("the path prefix from %s must be 1 to 256 characters from A-Z a-z 0-9 %s (value not shown: it is a secret)", source, allowed)
	}
	return nil
}

func parseClientArgs(args []string, getenv func(string) string) (clientConfig, error) {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	fs.Bool("tls-verify-certificate", false, "accepted for compatibility: certificates are always verified")
	var prefix string
	var specs listFlag
	for _, n := range []string{"P", "http-upgrade-path-prefix"} {
		fs.StringVar(&prefix, n, "", "upgrade path prefix (secret)")
	}
	for _, n := range []string{"L", "local-to-remote"} {
		fs.Var(&specs, n, tunnelSpecForm)
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return clientConfig{}, err
	}
	cfg := clientConfig{pingEvery: defaultPing}
	if len(pos) != 1 {
		return cfg, fmt.Errorf("want exactly one server URL %s, got %d arguments", serverURLForm, len(pos))
	}
	if cfg.server, err = parseServerURL(pos[0], serverURLForm, false); err != nil {
		return cfg, err
	}
	switch {
	case isSet(fs, "P", "http-upgrade-path-prefix"):
		err = checkPrefix(prefix, "-P/--http-upgrade-path-prefix")
	case getenv(envClientPrefix) != "":
		prefix = getenv(envClientPrefix)
		err = checkPrefix(prefix, envClientPrefix)
	default:
		prefix = "v1" // upstream's default
	}
	if err != nil {
		return cfg, err
	}
	cfg.prefix = prefix
	if len(specs) == 0 {
		return cfg, fmt.Errorf("want at least one -L %s", tunnelSpecForm)
	}
	for _, s := range specs {
		spec, err := parseTunnelSpec(s)
		if err != nil {
			return cfg, err
		}
		cfg.tunnels = append(cfg.tunnels, spec)
	}
	return cfg, nil
}

func parseServerArgs(args []string, getenv func(string) string) (serverConfig, error) {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	var restrict, prefixes listFlag
	var certFile, keyFile string
	fs.Var(&restrict, "restrict-to", restrictForm)
	for _, n := range []string{"r", "restrict-http-upgrade-path-prefix"} {
		fs.Var(&prefixes, n, "allowed upgrade path prefix (secret)")
	}
	fs.StringVar(&certFile, "tls-certificate", "", "PEM certificate chain file")
	fs.StringVar(&keyFile, "tls-private-key", "", "PEM private key file")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return serverConfig{}, err
	}
	cfg := serverConfig{certFile: certFile, keyFile: keyFile, maxTunnels: defaultMaxTunnels, pingEvery: defaultPing}
	if len(pos) != 1 {
		return cfg, fmt.Errorf("want exactly one listen URL %s, got %d arguments", listenURLForm, len(pos))
	}
	if cfg.listen, err = parseServerURL(pos[0], listenURLForm, true); err != nil {
		return cfg, err
	}
	if cfg.listen.tls != (certFile != "") || cfg.listen.tls != (keyFile != "") {
		return cfg, errors.New("wss:// needs both --tls-certificate FILE and --tls-private-key FILE, and ws:// takes neither")
	}
	if len(restrict) == 0 {
		return cfg, fmt.Errorf("refusing to start without --restrict-to %s: upstream would then forward to any destination and accept reverse tunnels", restrictForm)
	}
	for _, a := range restrict {
		r, err := parseRestriction(a)
		if err != nil {
			return cfg, err
		}
		cfg.restrictTo = append(cfg.restrictTo, r)
	}
	source := "-r/--restrict-http-upgrade-path-prefix"
	if len(prefixes) == 0 && getenv(envServerPrefix) != "" {
		prefixes, source = listFlag{getenv(envServerPrefix)}, envServerPrefix
	}
	if len(prefixes) == 0 {
		return cfg, fmt.Errorf("refusing to start without a path prefix (-r/--restrict-http-upgrade-path-prefix or %s): it is the only client authentication", envServerPrefix)
	}
	for _, p := range prefixes {
		if err := checkPrefix(p, source); err != nil {
			return cfg, err
		}
	}
	cfg.prefixes = prefixes
	return cfg, nil
}
