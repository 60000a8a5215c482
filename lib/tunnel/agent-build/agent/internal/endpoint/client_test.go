package endpoint

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// The endpoint answers 503 (Retry-After) while the attempt's instance is not recorded yet
// (ADR 0021): the bootstrap is retried with the same token and instance id until it is
// admitted; a refusal (4xx) is final at once.
func TestBootstrapRetriesUntilTheInstanceIsRecorded(t *testing.T) {
	cases := []struct {
		name     string
		answers  []int
		calls    int
		admitted bool
	}{
		{"recorded after two tries", []int{503, 503, 200}, 3, true},
		{"another attempt's token", []int{401}, 1, false},
		{"never recorded", []int{503, 503, 503}, 3, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var mu sync.Mutex
			var bodies []BootstrapRequest
			server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				var body BootstrapRequest
				_ = json.NewDecoder(r.Body).Decode(&body)
				bodies = append(bodies, body)
				code := c.answers[len(bodies)-1]
				if code != http.StatusOK {
					w.Header().Set("Retry-After", "5")
					w.WriteHeader(code)
					_, _ = w.Write([]byte(`{"error":"refused"}`))
					return
				}
				_, _ = w.Write([]byte(`{"version":1,"statusCredential":"cred"}`))
			}))
			defer server.Close()
			client, err := New(Options{URL: server.URL, Insecure: true})
			if err != nil {
				t.Fatal(err)
			}
			var waits []time.Duration
			client.Sleep = func(_ context.Context, d time.Duration) { waits = append(waits, d) }
			request := BootstrapRequest{Token: "tok", PodUID: "pod", InstanceID: "31337", Arch: "amd64", Format: "json"}
			_, err = client.Bootstrap(context.Background(), request, len(c.answers), func(string) {})
			if (err == nil) != c.admitted {
				t.Fatalf("error %v, admitted want %v", err, c.admitted)
			}
			if len(bodies) != c.calls {
				t.Fatalf("%d calls, want %d", len(bodies), c.calls)
			}
			for _, b := range bodies {
				if b.InstanceID != "31337" || b.Token != "tok" {
					t.Fatalf("retry sent %+v", b)
				}
			}
			if len(waits) != c.calls-1 {
				t.Fatalf("waits %v", waits)
			}
		})
	}
}
