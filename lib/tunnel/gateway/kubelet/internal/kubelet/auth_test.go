package kubelet

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The authentication and authorisation matrix over real TLS: the API server's client
// certificate signed by the cluster's client CA (read from the ConfigMap), one from another
// CA, bearer tokens through TokenReview, SubjectAccessReview on the pod's node.
func TestAuthMatrix(t *testing.T) {
	g := newGround(t)
	good, goodKey := g.ca.clientCert(t, "system:kube-apiserver", "system:masters")
	stranger := newTestCA(t, "someone-else")
	bad, badKey := stranger.clientCert(t, "system:kube-apiserver", "system:masters")
	const logs = "/containerLogs/default/gpu/app"
	cases := []struct {
		name           string
		path           string
		cert, key      []byte
		token          string
		wantStatus     int
		wantBody       string
		wantSubrsource string
	}{
		{name: "cluster CA client certificate", path: logs, cert: good, key: goodKey, wantStatus: 200, wantBody: "live line 1", wantSubrsource: "proxy"},
		{name: "client certificate of an unknown CA", path: logs, cert: bad, key: badKey, wantStatus: 401, wantBody: `client certificate "system:kube-apiserver" not accepted`},
		{name: "unknown CA but a good token", path: logs, cert: bad, key: badKey, token: "admin-token", wantStatus: 200, wantBody: "live line 1"},
		{name: "no credentials", path: logs, wantStatus: 401, wantBody: "no client certificate and no bearer token"},
		{name: "token refused by TokenReview", path: logs, token: "forged", wantStatus: 401, wantBody: "bearer token refused by TokenReview: invalid bearer token"},
		{name: "ServiceAccount without nodes/proxy", path: logs, token: "reader-token", wantStatus: 403, wantBody: "Forbidden (user=system:serviceaccount:default:reader, verb=get, resource=nodes, subresource(s)=[proxy], node(s)=[anex-vast]): no RBAC policy matched"},
		{name: "unauthorised caller learns nothing of a foreign pod", path: "/containerLogs/default/elsewhere/app", token: "reader-token", wantStatus: 403, wantBody: "Forbidden"},
		{name: "metrics-server may read stats", path: "/stats/summary", token: "stats-sa-token", wantStatus: 200, wantBody: `"nodeName":"anex-vast"`, wantSubrsource: "stats"},
		{name: "metrics-server may read metrics", path: "/metrics/resource", token: "stats-sa-token", wantStatus: 200, wantBody: "# TYPE node_cpu_usage_seconds_total counter", wantSubrsource: "metrics"},
		{name: "metrics-server may not read logs", path: logs, token: "stats-sa-token", wantStatus: 403, wantBody: "subresource(s)=[proxy]"},
		{name: "healthz needs no credentials", path: "/healthz", wantStatus: 200, wantBody: "ok"},
		{name: "an unknown path is authenticated first", path: "/configz", wantStatus: 401},
		{name: "an unknown path", path: "/configz", token: "admin-token", wantStatus: 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(g.api.calls())
			req, _ := http.NewRequest(http.MethodGet, g.kubelet.URL+tc.path, nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := g.client(tc.cert, tc.key).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus || !strings.Contains(string(body), tc.wantBody) {
				t.Fatalf("got %d %q, want %d containing %q", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
			if tc.wantSubrsource != "" {
				calls := g.api.calls()[before:]
				if len(calls) == 0 || calls[0].Subresource != tc.wantSubrsource || calls[0].Node != nodeName || calls[0].Verb != "get" {
					t.Fatalf("SubjectAccessReviews %+v, want get nodes/%s of %s", calls, tc.wantSubrsource, nodeName)
				}
			}
		})
	}
}

// The kubelet's mapping (pkg/kubelet/server/auth.go): method → verb, path → subresources.
func TestRequestAttributes(t *testing.T) {
	cases := []struct {
		method, path string
		verb         string
		subresources []string
	}{
		{"GET", "/stats/summary", "get", []string{"stats"}},
		{"GET", "/stats", "get", []string{"stats"}},
		{"GET", "/metrics/resource", "get", []string{"metrics"}},
		{"GET", "/logs/messages", "get", []string{"log"}},
		{"GET", "/containerLogs/ns/p/c", "get", []string{"proxy"}},
		{"POST", "/exec/ns/p/c", "create", []string{"proxy"}},
		{"GET", "/exec/ns/p/c", "get", []string{"proxy"}},
		{"POST", "/attach/ns/p/c", "create", []string{"proxy"}},
		{"POST", "/portForward/ns/p", "create", []string{"proxy"}},
		{"GET", "/runningpods/", "get", []string{"pods", "proxy"}},
		{"PUT", "/statsx", "update", []string{"proxy"}},
		{"DELETE", "/metricsfoo", "delete", []string{"proxy"}},
		{"PATCH", "/x", "patch", []string{"proxy"}},
	}
	for _, tc := range cases {
		if v := verbFor(tc.method); v != tc.verb {
			t.Errorf("%s %s: verb %q, want %q", tc.method, tc.path, v, tc.verb)
		}
		if s := subresourcesFor(tc.path); !slices.Equal(s, tc.subresources) {
			t.Errorf("%s %s: subresources %v, want %v", tc.method, tc.path, s, tc.subresources)
		}
	}
}

// Exec is authorised as create on nodes/proxy of the pod's node (POST, as the API server
// sends it); runningpods tries nodes/pods before nodes/proxy.
func TestStreamAndRunningPodsAuthorisation(t *testing.T) {
	g := newGround(t)
	g.api.allow = func(c sarCall) bool { return c.Subresource == "proxy" }
	req, _ := http.NewRequest(http.MethodPost, g.kubelet.URL+"/exec/default/gpu/app?command=true&output=1", nil)
	req.Header.Set("Authorization", "Bearer admin-token")
	resp, err := g.client(nil, nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // not an upgrade request: the library refuses it, after authorisation
	calls := g.api.calls()
	if len(calls) != 1 || calls[0] != (sarCall{User: "admin", Verb: "create", Node: nodeName, Subresource: "proxy"}) {
		t.Fatalf("SubjectAccessReviews %+v", calls)
	}
	status, body := g.get(t, "/runningpods/", "admin-token")
	if status != 200 {
		t.Fatalf("runningpods: %d %s", status, body)
	}
	calls = g.api.calls()[1:]
	if len(calls) != 2 || calls[0].Subresource != "pods" || calls[1].Subresource != "proxy" {
		t.Fatalf("runningpods SubjectAccessReviews %+v, want nodes/pods then nodes/proxy", calls)
	}
}

// --client-ca is a file; without a readable bundle client certificates are refused with a
// message saying so, and a failed re-read keeps the previous bundle.
func TestClientCAFile(t *testing.T) {
	ca := newTestCA(t, "file-ca")
	path := filepath.Join(t.TempDir(), "ca.pem")
	c := &ClientCA{File: path}
	if err := c.Refresh(t.Context()); err == nil || c.Pool() != nil {
		t.Fatalf("a missing file: err %v, pool %v", err, c.Pool())
	}
	a := &Authenticator{CA: c}
	cert, _ := ca.clientCert(t, "alice", "team")
	parsed := mustParseCert(t, cert)
	if _, err := a.verifyCert(parsed); err == nil || !strings.Contains(err.Error(), "no client CA is loaded") {
		t.Fatalf("without a CA: %v", err)
	}
	if err := os.WriteFile(path, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	user, err := a.verifyCert(parsed)
	if err != nil || user.Name != "alice" || !slices.Equal(user.Groups, []string{"team"}) {
		t.Fatalf("user %+v, err %v", user, err)
	}
	if err := os.WriteFile(path, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(t.Context()); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("bad bundle: %v", err)
	}
	if _, err := a.verifyCert(parsed); err != nil {
		t.Fatalf("the previous bundle should still verify: %v", err)
	}
}
