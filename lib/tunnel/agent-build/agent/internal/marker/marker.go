// Package marker remembers, in the container's own filesystem, that an agent already started
// in this container. A provider may start the same container again: RunPod restarts a
// container whose main process ended and keeps billing (runpod audit #7); Vast reboots keep
// the container too. The filesystem survives such a restart, the process does not — so the
// second agent finds the marker, knows the one-time bootstrap token is spent and that the
// workload already ran, and reports instead of running it twice.
//
// The file may hold the pod's status credential, so that a restarted agent can still report.
// It is mode 0600 in a directory of the agent's choosing; the workload runs in the same
// container and could read it, which gives it nothing new: the credential only reports about
// this pod, whose exit the workload decides anyway.
package marker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// State is what one start of the agent left for the next.
type State struct {
	PodUID string `json:"podUid"`
	// ClaimedAt is when the first agent was about to spend the token (RFC 3339).
	ClaimedAt string `json:"claimedAt"`
	// Credential is the status credential the bootstrap returned; empty until then.
	Credential string `json:"credential,omitempty"`
	// ExitCode is the workload's exit code once it ended.
	ExitCode *int `json:"exitCode,omitempty"`
	// Failed is the agent's own failure reason (it reported 'failed'), if any.
	Failed string `json:"failed,omitempty"`
	// Container, with ExitCode: the init container whose failure ended the pod (protocol 4).
	Container string `json:"container,omitempty"`
	// Evicted is kubelet's eviction message when the pod was evicted (protocol 4).
	Evicted string `json:"evicted,omitempty"`
}

// Marker is this start's claim on the container.
type Marker struct {
	path  string
	state State
}

// Path is the marker of pod podUID in dir.
func Path(dir, podUID string) string {
	return filepath.Join(dir, ".anex-agent-"+podUID+".json")
}

// Claim creates the marker at path before the token is spent (a token may be spent even when
// the answer is lost). It returns the earlier start's state when the marker exists already:
// this container was started before. Any other error means no marker could be written.
func Claim(path, podUID string, now time.Time) (*Marker, *State, error) {
	state := State{PodUID: podUID, ClaimedAt: now.UTC().Format(time.RFC3339)}
	body, _ := json.Marshal(state)
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		previous, readErr := read(path)
		if readErr != nil {
			return nil, nil, fmt.Errorf("an earlier start left %s, which cannot be read: %w", path, readErr)
		}
		return nil, previous, nil
	}
	if err != nil {
		return nil, nil, err
	}
	_, err = file.Write(body)
	if closeErr := file.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return nil, nil, err
	}
	return &Marker{path: path, state: state}, nil, nil
}

// Update changes the state and rewrites the file (a temporary file renamed over it, so a
// restart never reads half of it). A nil marker does nothing.
func (m *Marker) Update(change func(*State)) error {
	if m == nil {
		return nil
	}
	change(&m.state)
	body, _ := json.Marshal(m.state)
	temp := m.path + ".new"
	if err := os.WriteFile(temp, body, 0o600); err != nil {
		return err
	}
	return os.Rename(temp, m.path)
}

func read(path string) (*State, error) {
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var state State
	if err := json.Unmarshal(body, &state); err != nil {
		return nil, err
	}
	return &state, nil
}
