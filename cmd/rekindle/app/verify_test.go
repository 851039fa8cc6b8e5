package app

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestVerifyCommand runs rekindle verify on an environment that was never
// bootstrapped: every cluster is a difference (exit 1), in text and JSON;
// bad input is exit 2. The comparison of live clusters is tested in
// bootstrap/agent, recovery and test/e2e.
func TestVerifyCommand(t *testing.T) {
	code, stdout, stderr := run(t, "verify", "-b", example, "--env", "dev")
	if code != ExitFailed {
		t.Errorf("exit %d, want 1\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	for _, want := range []string{"CLUSTER", "DESIRED", "PRESENT", "MATCHING", "HEALTHY", "edge", "2 difference(s):", "edge: cluster not verified"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "ERROR: live state differs from Git: 2 difference(s) in 2 cluster(s)") {
		t.Errorf("stderr lacks the error line:\n%s", stderr)
	}

	code, stdout, _ = run(t, "-o", "json", "verify", "-b", example, "--env", "dev")
	var rep struct {
		Env      string `json:"env"`
		Passed   bool   `json:"passed"`
		Clusters []struct {
			Cluster     string            `json:"cluster"`
			Differences []json.RawMessage `json:"differences"`
		} `json:"clusters"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("-o json: not one JSON object: %v\n%s", err, stdout)
	}
	if code != ExitFailed || rep.Env != "dev" || rep.Passed || len(rep.Clusters) != 2 || len(rep.Clusters[1].Differences) != 1 {
		t.Errorf("exit %d, report %+v", code, rep)
	}

	if code, _, stderr := run(t, "verify", "-b", example, "--env", "prod"); code != ExitUsage || !strings.Contains(stderr, `environment "prod" not found`) {
		t.Errorf("unknown env: exit %d, stderr %s", code, stderr)
	}
}
