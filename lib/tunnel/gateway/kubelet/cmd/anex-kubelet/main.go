// anex-kubelet serves the kubelet API (:10250) for anex's virtual nodes from the gateway pod,
// reaching each pod's agent through the WireGuard tunnel (docs/adr/0023-kubelet-api.md).
// `anex-kubelet forward ...` is the forwarder pod of one anex pod instead
// (docs/adr/0024-services-reach-anex-pods.md, internal/forward).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"anex.local/kubelet/internal/forward"
	"anex.local/kubelet/internal/kubelet"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

const version = "1"

func main() {
	if err := dispatch(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "anex-kubelet:", err)
		os.Exit(1)
	}
}

// dispatch runs `anex-kubelet forward ...` or, without the subcommand, the kubelet API (how
// the gateway and anex run start it).
func dispatch(args []string) error {
	if len(args) > 0 && args[0] == "forward" {
		return runForward(args[1:])
	}
	return run(args)
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func run(args []string) error {
	fs := flag.NewFlagSet("anex-kubelet", flag.ContinueOnError)
	listen := fs.String("listen", ":10250", "address to serve the kubelet API on (TLS)")
	tlsCert := fs.String("tls-cert", "", "serving certificate (PEM); with --tls-key. Unset: a self-signed ECDSA certificate for --advertise-address")
	tlsKey := fs.String("tls-key", "", "serving key (PEM)")
	advertise := fs.String("advertise-address", os.Getenv("POD_IP"), "comma-separated addresses the self-signed certificate names (default $POD_IP)")
	clientCA := fs.String("client-ca", "", "CA bundle for client certificates; unset: client-ca-file of ConfigMap kube-system/extension-apiserver-authentication")
	caRefresh := fs.Duration("client-ca-refresh", 5*time.Minute, "how often the client CA bundle is read again")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig for the API server; unset: in-cluster configuration")
	nodeNames := fs.String("node-names", "", "comma-separated virtual nodes served; unset: the nodes matching --node-selector")
	nodeSelector := fs.String("node-selector", kubelet.DefaultNodeSelector, "label selector of the anex virtual nodes (without --node-names)")
	agentURL := fs.String("agent-url", os.Getenv("ANEX_AGENT_URL"), "the agent endpoint's base URL (peer list, saved log tails)")
	tokenFile := fs.String("peers-token-file", "/secrets/peers-token", "the gateway's credential for the agent endpoint")
	peersTTL := fs.Duration("peers-ttl", 5*time.Second, "how long a fetched peer list is used")
	agentPort := fs.Int("agent-port", 10250, "the agents' API port on their VPN addresses")
	tokenTTL := fs.Duration("authentication-token-ttl", 2*time.Minute, "cache of successful TokenReviews (0: none)")
	allowTTL := fs.Duration("authorization-allowed-ttl", 5*time.Minute, "cache of allowed SubjectAccessReviews (0: none)")
	forwarderSA := fs.String("forwarder-service-account", defaultForwarderSA(), "<namespace>/<name> of the ServiceAccount whose tokens may open POST /forward/{uid}/{port} (default $POD_NAMESPACE/anex-forwarder; unset: the route refuses everything)")
	forwarderAudience := fs.String("forwarder-audience", "anex-kubelet", "the audience forwarder tokens must be bound to")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *showVersion {
		fmt.Println("anex-kubelet", version)
		return nil
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (the only subcommand is forward)", fs.Arg(0))
	}
	if *forwarderSA != "" {
		if _, _, err := kubelet.ParseServiceAccount(*forwarderSA); err != nil {
			return fmt.Errorf("--forwarder-service-account: %w", err)
		}
	}
	if *forwarderAudience == "" {
		return errors.New("--forwarder-audience must not be empty: an unbound token would do")
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if *agentURL == "" {
		return errors.New("--agent-url is required (the agent endpoint that lists the tunnel's peers)")
	}
	if !strings.HasPrefix(*agentURL, "https://") && !strings.HasPrefix(*agentURL, "http://127.0.0.1") && !strings.HasPrefix(*agentURL, "http://localhost") {
		return errors.New("--agent-url must be an https:// URL: the gateway token never travels in clear (http only to loopback)")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	var config *rest.Config
	var err error
	if *kubeconfig != "" {
		config, err = clientcmd.BuildConfigFromFlags("", *kubeconfig)
	} else {
		config, err = rest.InClusterConfig()
	}
	if err != nil {
		return fmt.Errorf("API server configuration: %w", err)
	}
	config.UserAgent = "anex-kubelet/" + version
	kube, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}

	var cert tls.Certificate
	if *tlsCert != "" {
		cert, err = tls.LoadX509KeyPair(*tlsCert, *tlsKey)
	} else {
		addresses := splitList(*advertise)
		if len(addresses) == 0 {
			return errors.New("--advertise-address (or $POD_IP) is needed for the self-signed certificate, or give --tls-cert/--tls-key")
		}
		cert, err = kubelet.SelfSignedCert(addresses, time.Now())
	}
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	ca := &kubelet.ClientCA{File: *clientCA, Kube: kube}
	if err := ca.Refresh(ctx); err != nil {
		// Bearer tokens still work; the API server's client certificate will once the CA is read.
		log.Warn("no client CA yet; client certificates are refused until it is read", "error", err)
	}
	go func() {
		t := time.NewTicker(*caRefresh)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := ca.Refresh(ctx); err != nil {
					log.Warn("client CA refresh failed; keeping the previous bundle", "error", err)
				}
			}
		}
	}()

	var nodes kubelet.NodeSet = &kubelet.LabelledNodes{Kube: kube, Selector: *nodeSelector}
	if names := splitList(*nodeNames); len(names) > 0 {
		nodes = kubelet.StaticNodes(names)
	}
	server := &kubelet.Server{
		Kube:     kube,
		Nodes:    nodes,
		Endpoint: &kubelet.Endpoint{URL: *agentURL, TokenFile: *tokenFile, PeersTTL: *peersTTL},
		Agents:   &kubelet.Agents{Dialer: &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}, Port: *agentPort},
		Authn:    &kubelet.Authenticator{CA: ca, Kube: kube, TokenTTL: *tokenTTL},
		Authz:    &kubelet.Authorizer{Kube: kube, AllowTTL: *allowTTL},
		Forwarders: &kubelet.ForwarderAuth{
			Kube: kube, ServiceAccount: *forwarderSA, Audience: *forwarderAudience, TokenTTL: *tokenTTL,
		},
		Log: log,
	}
	httpServer := &http.Server{
		Addr:              *listen,
		Handler:           server.Handler(),
		TLSConfig:         kubelet.ServerTLS(cert),
		ReadHeaderTimeout: 30 * time.Second,
		// No HTTP/2: the streaming protocols upgrade HTTP/1.1 connections.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	log.Info("serving the kubelet API", "address", listener.Addr().String(), "version", version)
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = httpServer.Shutdown(shutdown)
	}()
	if err := httpServer.ServeTLS(listener, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// defaultForwarderSA is $POD_NAMESPACE/anex-forwarder: the forwarders run in the gateway's
// namespace (ADR 0024). Unknown namespace: empty, and the forward route refuses everything.
func defaultForwarderSA() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns + "/anex-forwarder"
	}
	return ""
}

// runForward is `anex-kubelet forward`: see internal/forward for the contract.
func runForward(args []string) error {
	fs := flag.NewFlagSet("anex-kubelet forward", flag.ContinueOnError)
	podUID := fs.String("pod-uid", "", "UID of the anex pod forwarded to")
	ports := fs.String("ports", "", "comma-separated TCP ports to listen on (the pod's declared containerPorts)")
	listenAddress := fs.String("listen-address", "0.0.0.0", "address the ports are bound on")
	kubeletURL := fs.String("kubelet-url", "", "anex-kubelet's URL, https://<host>:<port>")
	tokenFile := fs.String("token-file", "", "the projected ServiceAccount token (audience anex-kubelet), read on every connection")
	caFile := fs.String("ca-file", "", "CA bundle anex-kubelet's certificate is verified against; unset: not verified (the token is audience- and pod-bound)")
	grace := fs.Duration("shutdown-grace", 10*time.Second, "how long open connections may finish after SIGTERM")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("forward: unexpected argument %q", fs.Arg(0))
	}
	var portList []int
	for _, p := range splitList(*ports) {
		n, err := strconv.Atoi(p)
		if err != nil {
			return fmt.Errorf("--ports: %q is not a port number", p)
		}
		portList = append(portList, n)
	}
	tlsConfig, err := forward.ClientTLS(*caFile, *kubeletURL)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	f, err := forward.Listen(forward.Config{
		PodUID: *podUID, Ports: portList, ListenAddress: *listenAddress, KubeletURL: *kubeletURL,
		TokenFile: *tokenFile, TLS: tlsConfig, Grace: *grace, Log: log,
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return f.Serve(ctx)
}
