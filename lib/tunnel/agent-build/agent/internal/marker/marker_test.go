package marker

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

const pod = "6f1c2d3e-0000-4000-8000-000000000001"

func TestTheFirstStartClaimsTheSecondFindsItsState(t *testing.T) {
	path := Path(t.TempDir(), pod)
	at := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	first, previous, err := Claim(path, pod, at)
	if err != nil || first == nil || previous != nil {
		t.Fatalf("first claim: marker %v, previous %v, error %v", first, previous, err)
	}
	code := 3
	if err := first.Update(func(s *State) { s.Credential = "status-credential"; s.ExitCode = &code }); err != nil {
		t.Fatal(err)
	}
	again, previous, err := Claim(path, pod, at.Add(time.Minute))
	if err != nil || again != nil || previous == nil {
		t.Fatalf("second claim: marker %v, previous %v, error %v", again, previous, err)
	}
	if previous.ClaimedAt != "2026-12-03T09:00:00Z" || previous.Credential != "status-credential" ||
		previous.ExitCode == nil || *previous.ExitCode != 3 || previous.PodUID != pod {
		t.Fatalf("previous state %+v", previous)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("marker mode %v (error %v), want 0600: it may hold the status credential", info.Mode(), err)
	}
}

func TestAnUnreadableMarkerIsAnError(t *testing.T) {
	path := Path(t.TempDir(), pod)
	if err := os.WriteFile(path, []byte("{half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if m, previous, err := Claim(path, pod, time.Now()); err == nil {
		t.Fatalf("claim over a broken marker: marker %v, previous %v, no error", m, previous)
	}
}

func TestNoDirectoryNoMarker(t *testing.T) {
	path := Path(filepath.Join(t.TempDir(), "missing"), pod)
	if m, _, err := Claim(path, pod, time.Now()); err == nil || m != nil {
		t.Fatalf("claim in a missing directory: marker %v, error %v", m, err)
	}
	var none *Marker
	if err := none.Update(func(*State) {}); err != nil {
		t.Fatalf("a nil marker's update: %v", err)
	}
}
