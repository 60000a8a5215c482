package kubelet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"anex.local/agent-build/agent/pkg/agentapi"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
)

// Server is the kubelet API of the anex virtual nodes (ADR 0023).
type Server struct {
	Kube     kubernetes.Interface
	Nodes    NodeSet
	Endpoint *Endpoint
	Agents   *Agents
	Authn    *Authenticator
	Authz    *Authorizer
	// Forwarders authenticates the forward route (forward.go); nil refuses it.
	Forwarders *ForwarderAuth
	Log        *slog.Logger
	Now        func() time.Time
	// The kubelet's defaults: 4 h idle (--streaming-connection-idle-timeout), 30 s to open
	// the streams.
	StreamIdleTimeout     time.Duration
	StreamCreationTimeout time.Duration
	started               time.Time
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Handler serves /healthz unauthenticated, the forward route with its own check (forwarder
// tokens only, forward.go), and everything else after authentication, each route
// authorising as the kubelet does.
func (s *Server) Handler() http.Handler {
	s.started = s.now()
	if s.StreamIdleTimeout == 0 {
		s.StreamIdleTimeout = 4 * time.Hour
	}
	if s.StreamCreationTimeout == 0 {
		s.StreamCreationTimeout = remotecommand.DefaultStreamCreationTimeout
	}
	api := http.NewServeMux()
	api.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", s.serveLogs)
	for _, route := range []string{"/exec/{ns}/{pod}/{container}", "/exec/{ns}/{pod}/{uid}/{container}"} {
		api.HandleFunc("GET "+route, s.serveExec)
		api.HandleFunc("POST "+route, s.serveExec)
	}
	for _, route := range []string{"/attach/{ns}/{pod}/{container}", "/attach/{ns}/{pod}/{uid}/{container}"} {
		api.HandleFunc("GET "+route, s.serveAttach)
		api.HandleFunc("POST "+route, s.serveAttach)
	}
	for _, route := range []string{"/portForward/{ns}/{pod}", "/portForward/{ns}/{pod}/{uid}"} {
		api.HandleFunc("GET "+route, s.servePortForward)
		api.HandleFunc("POST "+route, s.servePortForward)
	}
	api.HandleFunc("GET /runningpods/", s.serveRunningPods)
	api.HandleFunc("GET /stats/summary", s.serveSummary)
	api.HandleFunc("GET /metrics/resource", s.serveResourceMetrics)

	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok")
	})
	root.HandleFunc("POST /forward/{uid}/{port}", s.serveForward)
	root.Handle("/", s.authenticated(api))
	return root
}

type userKey struct{}

func (s *Server) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, err := s.Authn.Authenticate(r)
		if err != nil {
			var refused *AuthError
			if errors.As(err, &refused) {
				http.Error(w, refused.Error(), http.StatusUnauthorized)
				return
			}
			s.log().Warn("authentication failed", "path", r.URL.Path, "error", err)
			http.Error(w, "cannot authenticate the request: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, user)))
	})
}

// authorize asks for the path's subresources on the given nodes; any one allowed suffices
// (node-level paths ask for every node served: the address is shared by all of them).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, nodes []string) bool {
	user, _ := r.Context().Value(userKey{}).(*User)
	verb := verbFor(r.Method)
	subresources := subresourcesFor(r.URL.Path)
	var reasons []string
	for _, node := range nodes {
		for _, sub := range subresources {
			d, err := s.Authz.Authorize(r.Context(), user, verb, node, sub)
			if err != nil {
				s.log().Warn("authorization failed", "path", r.URL.Path, "error", err)
				http.Error(w, "cannot authorize the request: "+err.Error(), http.StatusServiceUnavailable)
				return false
			}
			if d.Allowed {
				return true
			}
			if d.Reason != "" && !slices.Contains(reasons, d.Reason) {
				reasons = append(reasons, d.Reason)
			}
		}
	}
	msg := fmt.Sprintf("Forbidden (user=%s, verb=%s, resource=nodes, subresource(s)=%v, node(s)=%v)", user.Name, verb, subresources, nodes)
	if len(nodes) == 0 {
		msg += ": this kubelet API serves no anex node"
	}
	if len(reasons) > 0 {
		msg += ": " + strings.Join(reasons, "; ")
	}
	http.Error(w, msg, http.StatusForbidden)
	return false
}

// lookupPod authorises the request against the pod's node and returns the pod, or answers
// 404 when the pod is not on an anex node served here. A pod that is not ours is authorised
// against the nodes served, so an unauthorised caller learns nothing about which pods exist.
func (s *Server) lookupPod(w http.ResponseWriter, r *http.Request) (*corev1.Pod, bool) {
	ns, name, uid := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("uid")
	nodes, err := s.Nodes.Names(r.Context())
	if err != nil {
		http.Error(w, "cannot list the anex nodes: "+err.Error(), http.StatusServiceUnavailable)
		return nil, false
	}
	pod, err := s.Kube.CoreV1().Pods(ns).Get(r.Context(), name, metav1.GetOptions{})
	ours := err == nil && slices.Contains(nodes, pod.Spec.NodeName)
	authNodes := nodes
	if ours {
		authNodes = []string{pod.Spec.NodeName}
	}
	if !s.authorize(w, r, authNodes) {
		return nil, false
	}
	switch {
	case err != nil && !apierrors.IsNotFound(err):
		http.Error(w, fmt.Sprintf("cannot read pod %s/%s: %v", ns, name, err), http.StatusServiceUnavailable)
		return nil, false
	case !ours || (uid != "" && string(pod.UID) != uid):
		http.Error(w, fmt.Sprintf("pod %s/%s not found on the anex nodes served here", ns, name), http.StatusNotFound)
		return nil, false
	}
	return pod, true
}

// hasContainer: the container is one of the pod's (init containers and sidecars included).
func hasContainer(pod *corev1.Pod, name string) bool {
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	return false
}

func (s *Server) containerOf(w http.ResponseWriter, r *http.Request, pod *corev1.Pod) (string, bool) {
	container := r.PathValue("container")
	if !hasContainer(pod, container) {
		http.Error(w, fmt.Sprintf("container %q not found in pod %s/%s", container, pod.Namespace, pod.Name), http.StatusNotFound)
		return "", false
	}
	return container, true
}

// peer is the VPN address of the pod's agent; it answers the request itself (false) when the
// peer list cannot be read or the pod has none.
func (s *Server) peer(w http.ResponseWriter, r *http.Request, pod *corev1.Pod, what string) (string, bool) {
	vpn, ok, err := s.Endpoint.PeerAddress(r.Context(), string(pod.UID))
	if err != nil {
		s.log().Warn("peer list unavailable", "error", err)
		http.Error(w, "cannot read the tunnel's peer list: "+err.Error(), http.StatusServiceUnavailable)
		return "", false
	}
	if !ok {
		noTunnel(w, pod, what)
		return "", false
	}
	return vpn, true
}

// noTunnel answers for a pod without a peer: running → it was launched without a tunnel
// (transport none, ADR 0023 §6); otherwise its machine is gone.
func noTunnel(w http.ResponseWriter, pod *corev1.Pod, what string) {
	if pod.Status.Phase == corev1.PodRunning {
		http.Error(w, fmt.Sprintf("pod %s/%s runs without a tunnel, so %s is not available; only the log tail saved at exit is served", pod.Namespace, pod.Name, what), http.StatusServiceUnavailable)
		return
	}
	http.Error(w, fmt.Sprintf("pod %s/%s has no machine any more, so %s is not available", pod.Namespace, pod.Name, what), http.StatusNotFound)
}

func podFullName(pod *corev1.Pod) string { return pod.Name + "_" + pod.Namespace }

func (s *Server) serveExec(w http.ResponseWriter, r *http.Request)   { s.serveStream(w, r, false) }
func (s *Server) serveAttach(w http.ResponseWriter, r *http.Request) { s.serveStream(w, r, true) }

func (s *Server) serveStream(w http.ResponseWriter, r *http.Request, attach bool) {
	pod, ok := s.lookupPod(w, r)
	if !ok {
		return
	}
	container, ok := s.containerOf(w, r, pod)
	if !ok {
		return
	}
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	cmd := r.URL.Query()["command"]
	what := "attach"
	if !attach {
		what = "exec"
		if len(cmd) == 0 {
			http.Error(w, "exec needs a command (query parameter command, once per argument)", http.StatusBadRequest)
			return
		}
	}
	vpn, ok := s.peer(w, r, pod, what)
	if !ok {
		return
	}
	session := &podSession{agents: s.Agents, vpn: vpn}
	s.log().Info(what, "pod", pod.Namespace+"/"+pod.Name, "container", container, "tty", opts.TTY)
	if attach {
		remotecommand.ServeAttach(w, r, session, podFullName(pod), string(pod.UID), appContainerKey(pod, container), opts, s.StreamIdleTimeout, s.StreamCreationTimeout, remotecommand.SupportedStreamingProtocols)
		return
	}
	remotecommand.ServeExec(w, r, session, podFullName(pod), string(pod.UID), appContainerKey(pod, container), cmd, opts, s.StreamIdleTimeout, s.StreamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

func (s *Server) servePortForward(w http.ResponseWriter, r *http.Request) {
	pod, ok := s.lookupPod(w, r)
	if !ok {
		return
	}
	opts, err := portforward.NewV4Options(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	vpn, ok := s.peer(w, r, pod, "port-forward")
	if !ok {
		return
	}
	session := &podSession{agents: s.Agents, vpn: vpn}
	portforward.ServePortForward(w, r, session, podFullName(pod), string(pod.UID), opts, s.StreamIdleTimeout, s.StreamCreationTimeout, portforward.SupportedProtocols)
}

// appContainerKey is how the agent and the endpoint name a container: the app container
// (spec.containers[0]) is the empty name (the agent is never told it), init containers and
// sidecars go by theirs (docs/agent-protocol.md).
func appContainerKey(pod *corev1.Pod, container string) string {
	if len(pod.Spec.Containers) > 0 && pod.Spec.Containers[0].Name == container {
		return ""
	}
	return container
}

func (s *Server) serveLogs(w http.ResponseWriter, r *http.Request) {
	pod, ok := s.lookupPod(w, r)
	if !ok {
		return
	}
	container, ok := s.containerOf(w, r, pod)
	if !ok {
		return
	}
	opts, err := parseLogOptions(r.URL.Query(), s.now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	vpn, hasPeer, err := s.Endpoint.PeerAddress(r.Context(), string(pod.UID))
	if err != nil {
		s.log().Warn("peer list unavailable", "error", err)
		http.Error(w, "cannot read the tunnel's peer list: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	if hasPeer {
		resp, err := s.Agents.Get(r.Context(), vpn, agentapi.PathLogs, opts.agentQuery(appContainerKey(pod, container)))
		if err == nil {
			defer resp.Body.Close()
			copyFlushing(w, resp)
			return
		}
		var refused *AgentRefusal
		if errors.As(err, &refused) {
			http.Error(w, refused.Message, refused.Status)
			return
		}
		// The machine is gone or its tunnel is down: the saved tail answers instead.
		s.log().Info("agent unreachable for logs; serving the saved tail", "pod", pod.Namespace+"/"+pod.Name, "error", err)
	}
	tail, err := s.Endpoint.StoredTail(r.Context(), string(pod.UID), appContainerKey(pod, container), opts.Previous)
	if err != nil {
		s.log().Warn("saved log tail unavailable", "error", err)
		http.Error(w, "cannot read the saved log tail: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	if tail != nil {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(renderTail(tail.Entries, opts))
		return
	}
	run := "the container's"
	if opts.Previous {
		run = "the previous run's"
	}
	// 400, as the kubelet answers logs it cannot give ("container … is waiting to start"): the
	// API server hands a kubelet's 400 on pods/log to kubectl with its body, while a 503 or 404
	// becomes its own generic message (k8s.io/apiserver pkg/registry/generic/rest
	// response_checker.go), and the user would not learn why.
	if !hasPeer && pod.Status.Phase == corev1.PodRunning {
		http.Error(w, fmt.Sprintf("pod %s/%s runs without a tunnel; only the log tail saved at exit is served, and none is saved yet", pod.Namespace, pod.Name), http.StatusBadRequest)
		return
	}
	http.Error(w, fmt.Sprintf("the machine of pod %s/%s is gone and no log tail was saved for %s container %q", pod.Namespace, pod.Name, run, container), http.StatusBadRequest)
}

// copyFlushing relays the agent's log stream, flushing each chunk so `logs -f` sees lines
// as they come.
func copyFlushing(w http.ResponseWriter, resp *http.Response) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	flusher := http.NewResponseController(w)
	buf := make([]byte, 32*1024)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			_ = flusher.Flush()
		}
		if err != nil {
			return
		}
	}
}

// podsServed are the pods bound to the anex nodes served here.
func (s *Server) podsServed(ctx context.Context, nodes []string) ([]corev1.Pod, error) {
	var pods []corev1.Pod
	for _, node := range nodes {
		list, err := s.Kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String(),
		})
		if err != nil {
			return nil, fmt.Errorf("listing the pods of node %s: %w", node, err)
		}
		pods = append(pods, list.Items...)
	}
	return pods, nil
}

// nodeLevel authorises a node-level path and returns the nodes served.
func (s *Server) nodeLevel(w http.ResponseWriter, r *http.Request) ([]string, bool) {
	nodes, err := s.Nodes.Names(r.Context())
	if err != nil {
		http.Error(w, "cannot list the anex nodes: "+err.Error(), http.StatusServiceUnavailable)
		return nil, false
	}
	if !s.authorize(w, r, nodes) {
		return nil, false
	}
	return nodes, true
}

// serveRunningPods answers as the kubelet does: a PodList of the running pods, each with its
// name, namespace, UID and containers' names and images.
func (s *Server) serveRunningPods(w http.ResponseWriter, r *http.Request) {
	nodes, ok := s.nodeLevel(w, r)
	if !ok {
		return
	}
	pods, err := s.podsServed(r.Context(), nodes)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	list := corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}, Items: []corev1.Pod{}}
	for _, p := range pods {
		if p.Status.Phase != corev1.PodRunning {
			continue
		}
		item := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID}}
		for _, c := range p.Spec.Containers {
			item.Spec.Containers = append(item.Spec.Containers, corev1.Container{Name: c.Name, Image: c.Image})
		}
		list.Items = append(list.Items, item)
	}
	writeJSON(w, list)
}

// forEachPeer calls fn for each pod with a peer, at most 16 at a time.
func (s *Server) forEachPeer(ctx context.Context, pods []corev1.Pod, fn func(i int, vpn string)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range pods {
		vpn, ok, err := s.Endpoint.PeerAddress(ctx, string(pods[i].UID))
		if err != nil || !ok {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i, vpn)
		}()
	}
	wg.Wait()
}
