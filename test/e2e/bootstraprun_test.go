package e2e

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// backgroundRun is a rekindle command (with -o json) started in the
// background, whose progress events are read from its stderr as they come:
// the fault tests act on the cluster while it runs.
type backgroundRun struct {
	cmd    *exec.Cmd
	sc     *bufio.Scanner
	stdout strings.Builder
	events []string
}

// startRun starts rekindle with args against state.
func startRun(t *testing.T, state string, args ...string) *backgroundRun {
	t.Helper()
	r := &backgroundRun{cmd: exec.Command(rekindleBin, append([]string{"--state-dir", state, "-o", "json"}, args...)...)}
	r.cmd.Stdout = &r.stdout
	stderr, err := r.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.sc = bufio.NewScanner(stderr)
	return r
}

// until reads events until step starts, for cluster (any cluster when ""),
// and reports whether it did before the run's output ended.
func (r *backgroundRun) until(step, cluster string) bool {
	for r.sc.Scan() {
		r.events = append(r.events, r.sc.Text())
		var ev struct{ Step, Status, Cluster string }
		if json.Unmarshal(r.sc.Bytes(), &ev) == nil && ev.Step == step && ev.Status == "started" && (cluster == "" || ev.Cluster == cluster) {
			return true
		}
	}
	return false
}

// wait reads the remaining events and waits for the run to end.
func (r *backgroundRun) wait() error {
	for r.sc.Scan() {
		r.events = append(r.events, r.sc.Text())
	}
	return r.cmd.Wait()
}

// log is every event read so far, a line each.
func (r *backgroundRun) log() string { return strings.Join(r.events, "\n") }
