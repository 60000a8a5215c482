package probe

import (
	"bufio"
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"anex.local/agent-build/agent/internal/endpoint"
)

// grpcServer builds and starts testdata/grpchealth (grpc-go's health service, its own module)
// with the given service statuses, and returns its port. The build needs the go command and
// the module proxy (or a warm module cache): without them the test fails and says so.
func grpcServer(t *testing.T, statuses ...string) int {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "grpchealth")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join("testdata", "grpchealth")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("cannot build the grpc-go health server the grpc probe is tested against: %v\n%s", err, out)
	}
	server := exec.Command(bin, statuses...)
	stdout, err := server.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = server.Process.Kill()
		_ = server.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("the grpc health server printed no port: %v", err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("the grpc health server printed %q, not a port", line)
	}
	return port
}

func TestGRPCProbeAgainstGrpcGoHealthService(t *testing.T) {
	port := grpcServer(t, "=SERVING", "model=SERVING", "sick=NOT_SERVING")
	closed := func() int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		return p
	}()
	cases := []struct {
		name    string
		grpc    endpoint.GRPC
		ok      bool
		message string // a substring of kubelet's wording
	}{
		{"the server as a whole", endpoint.GRPC{Port: port}, true, ""},
		{"a named service serving", endpoint.GRPC{Port: port, Service: "model"}, true, ""},
		{"a named service not serving", endpoint.GRPC{Port: port, Service: "sick"}, false, `service unhealthy (responded with "NOT_SERVING")`},
		{"an unknown service", endpoint.GRPC{Port: port, Service: "nope"}, false, "rpc error: code = NotFound"},
		{"nothing listening", endpoint.GRPC{Port: closed}, false, "timeout: failed to connect service"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ok, message := Check(context.Background(), endpoint.Handler{GRPC: &c.grpc}, 5*time.Second, testEnv)
			if ok != c.ok || !strings.Contains(message, c.message) {
				t.Fatalf("Check = %v, %q; want %v, containing %q", ok, message, c.ok, c.message)
			}
		})
	}
}

func TestGRPCHealthRequestAndAnswerBytes(t *testing.T) {
	if got := healthRequest(""); string(got) != "\x00\x00\x00\x00\x00" {
		t.Fatalf("empty request %q", got)
	}
	if got := healthRequest("ab"); string(got) != "\x00\x00\x00\x00\x04\x0a\x02ab" {
		t.Fatalf("request %q", got)
	}
	cases := []struct {
		name   string
		body   string
		status uint64
		bad    bool
	}{
		{"SERVING", "\x00\x00\x00\x00\x02\x08\x01", 1, false},
		{"absent field is UNKNOWN", "\x00\x00\x00\x00\x00", 0, false},
		{"unknown fields skipped", "\x00\x00\x00\x00\x08\x12\x02hi\x08\x02\x18\x05", 2, false},
		{"too short", "\x00\x00", 0, true},
		{"compressed", "\x01\x00\x00\x00\x00", 0, true},
		{"truncated", "\x00\x00\x00\x00\x09\x08", 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, err := healthStatus([]byte(c.body))
			if (err != nil) != c.bad || (!c.bad && status != c.status) {
				t.Fatalf("healthStatus = %d, %v; want %d (error %v)", status, err, c.status, c.bad)
			}
		})
	}
}
