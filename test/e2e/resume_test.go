package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestResumeAfterKill kills `bootstrap create` with SIGKILL in the middle of
// each step in turn; the next run must resume and reach the same end state,
// with no second cluster and no duplicate infrastructure.
func TestResumeAfterKill(t *testing.T) {
	needParts(t)
	cases := []struct {
		step  string
		delay time.Duration // after the step's start, to land inside its work
	}{
		{"validate", 0},
		{"infra", 150 * time.Millisecond},
		{"clusters", 1500 * time.Millisecond},
		{"agent", 400 * time.Millisecond},
		{"replay", 300 * time.Millisecond},
		{"verify", 0},
	}
	for _, tc := range cases {
		t.Run(tc.step, func(t *testing.T) {
			state := t.TempDir()
			cleanupEnv(t, state, nil, "-b", example, "--env", "dev")
			killed := killDuring(t, state, tc.step, tc.delay)
			if !killed {
				t.Fatalf("the run finished before step %q could be interrupted", tc.step)
			}
			res := rk(t, state, nil, "-o", "json", "bootstrap", "create", "-b", example, "--env", "dev")
			if res.code != 0 {
				t.Fatalf("resumed run: exit %d", res.code)
			}
			sum := parseSummary(t, res.stdout)
			for _, c := range sum.Clusters {
				if !c.Ready || c.Healthy != c.Desired || c.Desired == 0 {
					t.Errorf("cluster %s after resume: %d/%d healthy", c.Name, c.Healthy, c.Desired)
				}
			}
			list := rk(t, state, nil, "-o", "json", "cluster", "list", "--provider", "kwok")
			if n := countLines(list.stdout); n != 2 {
				t.Errorf("kwok clusters after resume: %d, want 2:\n%s", n, list.stdout)
			}
			if n := tfResources(t, state); n != 2 {
				t.Errorf("terraform resources after resume: %d, want 2 (no duplicate infra)", n)
			}
			if rk(t, state, nil, "bootstrap", "destroy", "-b", example, "--env", "dev").code != 0 {
				t.Fatal("destroy failed")
			}
			checkDestroyed(t, state, "local")
		})
	}
}

// killDuring starts bootstrap create and SIGKILLs it delay after step starts.
// It reports whether the kill landed before the run ended.
func killDuring(t *testing.T, state, step string, delay time.Duration) bool {
	t.Helper()
	run := startRun(t, state, "bootstrap", "create", "-b", example, "--env", "dev")
	killed := false
	if run.until(step, "") {
		time.Sleep(delay)
		killed = run.cmd.Process.Signal(syscall.SIGKILL) == nil
	}
	err := run.wait()
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Logf("killed during %s after %s", step, delay)
			return killed
		}
	}
	return false
}

func countLines(s string) int {
	n := 0
	for _, l := range splitLines(s) {
		if l != "" {
			n++
		}
	}
	return n
}

func splitLines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// tfResources counts resource instances in the environment's Terraform state.
func tfResources(t *testing.T, state string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(state, "envs", "local", "dev", "terraform", "terraform.tfstate"))
	if err != nil {
		t.Fatalf("terraform state: %v", err)
	}
	var st struct {
		Resources []struct {
			Instances []any `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range st.Resources {
		n += len(r.Instances)
	}
	return n
}
