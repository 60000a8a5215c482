// Command sim-registry is the simulated marketplace's container registry: a real OCI
// distribution server (go-containerregistry's pkg/registry, in memory) holding the images
// of lib/sim/common/images.ts, so the control plane reads image configs (ENTRYPOINT, CMD,
// Env, WorkingDir, architectures) over the same API as from Docker Hub or GHCR.
//
// Each image is stored under its registry host and path (`docker.io/pytorch/pytorch`,
// `ghcr.io/example/trainer`): clients use this server as a mirror for every registry
// (lib/images `mirror`). A tag with one architecture is a plain manifest, with several an
// index, as real registries publish them. Layers are empty: only the config matters here.
// An image with a `login` is private: reads need that login, through the Docker token flow
// (a Bearer challenge naming /token) or, with `auth: "basic"`, Basic on every request.
//
// Usage: sim-registry --images <file.json> [--listen 127.0.0.1:0]
// Prints `listening on http://<addr>` on stdout once every image is pushed.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Image is one entry of the --images file (lib/sim/common/images.ts SimImage).
type Image struct {
	Ref           string   `json:"ref"`
	Entrypoint    []string `json:"entrypoint,omitempty"`
	Cmd           []string `json:"cmd,omitempty"`
	Env           []string `json:"env"`
	WorkingDir    string   `json:"workingDir,omitempty"`
	Architectures []string `json:"architectures"`
	// Login makes the image private: reading it needs this login.
	Login *Login `json:"login,omitempty"`
	// Auth is how the registry asks for the login: "bearer" (the default) or "basic".
	Auth string `json:"auth,omitempty"`
}

// Login is a registry user.
type Login struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func main() {
	images := flag.String("images", "", "JSON file: [{ref, entrypoint, cmd, env, workingDir, architectures}]")
	listen := flag.String("listen", "127.0.0.1:0", "host:port to listen on")
	flag.Parse()
	if err := run(*images, *listen); err != nil {
		fmt.Fprintf(os.Stderr, "sim-registry: %v\n", err)
		os.Exit(1)
	}
}

func run(file, listen string) error {
	if file == "" {
		return errors.New("--images is required (a JSON list of images)")
	}
	text, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var images []Image
	if err := json.Unmarshal(text, &images); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	listener, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	quiet := log.New(os.Stderr, "", 0)
	quiet.SetOutput(discard{})
	host := listener.Addr().String()
	private := map[string]Private{}
	for _, image := range images {
		if image.Login != nil {
			repo, err := mirrorRepo(image.Ref)
			if err != nil {
				return err
			}
			private[repo] = Private{Login: *image.Login, Scheme: image.Auth}
		}
	}
	auth := &authFront{next: registry.New(registry.Logger(quiet)), private: private, host: host}
	server := &http.Server{Handler: auth}
	go func() { _ = server.Serve(listener) }()
	for _, image := range images {
		if err := push(host, image); err != nil {
			return fmt.Errorf("pushing %s: %w", image.Ref, err)
		}
	}
	// Reads are checked from now on: the pushes above went in unchecked.
	auth.on.Store(true)
	fmt.Printf("listening on http://%s\n", host)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	<-signals
	return server.Close()
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// mirrorRepo is the repository an image is stored under: <registry host>/<path>.
func mirrorRepo(ref string) (string, error) {
	source, err := name.ParseReference(ref)
	if err != nil {
		return "", err
	}
	repo := source.Context()
	registryHost := repo.RegistryStr()
	if registryHost == name.DefaultRegistry {
		registryHost = "docker.io" // as users write it; the library spells it index.docker.io
	}
	return registryHost + "/" + repo.RepositoryStr(), nil
}

// Private is a repository that wants a login, and how it asks for it.
type Private struct {
	Login Login
	// Scheme is "bearer" (distribution's token auth spec, as Docker Hub and GHCR use it: a
	// 401 names a /token realm that hands a token to the login sent as Basic) or "basic" (the
	// login itself on every request, as a self-hosted registry behind htpasswd does).
	Scheme string
}

// authFront puts registry auth in front of private repositories: a read without a valid
// token (bearer) or login (basic) gets 401 with the challenge of its scheme. Writes (the
// pushes at start) and public repositories pass.
type authFront struct {
	next    http.Handler
	private map[string]Private
	host    string
	on      atomic.Bool
	// tokens handed out: token → repository (random, so a token says nothing of the login)
	tokens sync.Map
}

func (t *authFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		t.token(w, r)
		return
	}
	if t.on.Load() && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		for repo, private := range t.private {
			if strings.HasPrefix(r.URL.Path, "/v2/"+repo+"/") && !t.allowed(r, repo, private) {
				t.challenge(w, repo, private)
				return
			}
		}
	}
	t.next.ServeHTTP(w, r)
}

func (t *authFront) allowed(r *http.Request, repo string, private Private) bool {
	if private.Scheme == "basic" {
		user, password, ok := r.BasicAuth()
		return ok && user == private.Login.Username && password == private.Login.Password
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	granted, found := t.tokens.Load(token)
	return found && granted == repo
}

func (t *authFront) challenge(w http.ResponseWriter, repo string, private Private) {
	if private.Scheme == "basic" {
		w.Header().Set("WWW-Authenticate", `Basic realm="sim-registry"`)
	} else {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="sim-registry",scope="repository:%s:pull"`, t.host, repo))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
}

func (t *authFront) token(w http.ResponseWriter, r *http.Request) {
	scope := strings.TrimSuffix(strings.TrimPrefix(r.URL.Query().Get("scope"), "repository:"), ":pull")
	private, isPrivate := t.private[scope]
	w.Header().Set("Content-Type", "application/json")
	if !isPrivate {
		_ = json.NewEncoder(w).Encode(map[string]string{"token": "anonymous"})
		return
	}
	user, password, ok := r.BasicAuth()
	if !ok || user != private.Login.Username || password != private.Login.Password {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"incorrect username or password"}]}`))
		return
	}
	random := make([]byte, 16)
	_, _ = rand.Read(random)
	token := hex.EncodeToString(random)
	t.tokens.Store(token, scope)
	_ = json.NewEncoder(w).Encode(map[string]string{"token": token})
}

// push stores image under <host>/<registry host>/<path>:<tag>.
func push(host string, image Image) error {
	source, err := name.ParseReference(image.Ref)
	if err != nil {
		return err
	}
	repo, err := mirrorRepo(image.Ref)
	if err != nil {
		return err
	}
	target, err := name.ParseReference(fmt.Sprintf("%s/%s:%s", host, repo, source.Identifier()), name.Insecure)
	if err != nil {
		return err
	}
	variants := make([]v1.Image, 0, len(image.Architectures))
	for _, arch := range image.Architectures {
		img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
			Architecture: arch,
			OS:           "linux",
			RootFS:       v1.RootFS{Type: "layers"},
			Config: v1.Config{
				Entrypoint: image.Entrypoint,
				Cmd:        image.Cmd,
				Env:        image.Env,
				WorkingDir: image.WorkingDir,
			},
		})
		if err != nil {
			return err
		}
		variants = append(variants, img)
	}
	if len(variants) == 1 {
		return remote.Write(target, variants[0])
	}
	index := v1.ImageIndex(empty.Index)
	for i, img := range variants {
		index = mutate.AppendManifests(index, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: image.Architectures[i]}},
		})
	}
	return remote.WriteIndex(target, index)
}
