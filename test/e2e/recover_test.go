package e2e

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRecoverRealLossThenDrill: bootstrap the example, lose a cluster for
// real (its control plane killed, its state deleted), see what a dry run
// would rebuild, recover it and verify it; then a drill with a 1s
// objective fails, says by how much, and still writes its three reports.
func TestRecoverRealLossThenDrill(t *testing.T) {
	needParts(t)
	state := t.TempDir()
	cleanupEnv(t, state, nil, "-b", example, "--env", "dev")
	if res := rk(t, state, nil, "bootstrap", "create", "-b", example, "--env", "dev"); res.code != 0 {
		t.Fatalf("bootstrap: exit %d", res.code)
	}

	clusterDir := filepath.Join(state, "clusters", "kwok", "dev-apps")
	for _, p := range processesUnder(clusterDir) {
		pid, _, _ := strings.Cut(p, ": ")
		n, _ := strconv.Atoi(pid)
		_ = syscall.Kill(n, syscall.SIGKILL)
	}
	if err := os.RemoveAll(clusterDir); err != nil {
		t.Fatal(err)
	}

	// A dry run names the loss and the plan to rebuild it, and changes
	// nothing: no cluster made, the checkpoint as it was.
	checkpoints, _ := filepath.Glob(filepath.Join(state, "envs", "*", "dev", "checkpoint.json"))
	if len(checkpoints) != 1 {
		t.Fatalf("checkpoints %v: want the dev environment's one", checkpoints)
	}
	before, _ := os.ReadFile(checkpoints[0])
	dry := rk(t, state, nil, "recover", "-b", example, "--env", "dev", "--dry-run")
	if dry.code != 0 {
		t.Fatalf("recover --dry-run: exit %d", dry.code)
	}
	for _, want := range []string{`CLUSTER\s+LOST\s+DETAIL`, `dev-apps\s+cluster\s+the cluster does not`, `edge\s+-\s+running`, "plan for environment"} {
		if !regexp.MustCompile(want).MatchString(dry.stdout) {
			t.Errorf("recover --dry-run printed no %q:\n%s", want, dry.stdout)
		}
	}
	if !strings.Contains(dry.stderr, "dev-apps (kwok): would create") || !strings.Contains(dry.stderr, "running, would keep") {
		t.Errorf("recover --dry-run's plan does not say which cluster it would create and which it keeps:\n%s", dry.stderr)
	}
	if _, err := os.Stat(clusterDir); !os.IsNotExist(err) {
		t.Errorf("recover --dry-run made the lost cluster's state (%v)", err)
	}
	if after, _ := os.ReadFile(checkpoints[0]); string(after) != string(before) {
		t.Error("recover --dry-run changed the checkpoint")
	}

	rec := rk(t, state, nil, "-o", "json", "recover", "-b", example, "--env", "dev")
	if rec.code != 0 {
		t.Fatalf("recover after a real loss: exit %d", rec.code)
	}
	var ev struct {
		Result struct {
			RTO struct {
				Total  time.Duration `json:"total"`
				Met    bool          `json:"met"`
				Phases []struct {
					Name     string        `json:"name"`
					Duration time.Duration `json:"duration"`
				} `json:"phases"`
				Lanes []struct {
					Cluster string `json:"cluster"`
				} `json:"lanes"`
				Critical string `json:"critical"`
			} `json:"rto"`
			Summary summary `json:"summary"`
		} `json:"result"`
	}
	for _, line := range strings.Split(rec.stdout, "\n") {
		if strings.Contains(line, `"event":"recovery"`) {
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	rto := ev.Result.RTO
	if !rto.Met || rto.Total <= 0 {
		t.Errorf("recovery RTO = %+v, want it within the 5m objective", rto)
	}
	// The phases are the shared steps, the critical cluster's lane and
	// rekindle's own time between steps: they add up to the RTO.
	var sum time.Duration
	names := map[string]bool{}
	for _, ph := range rto.Phases {
		sum += ph.Duration
		names[ph.Name] = true
	}
	for _, want := range []string{"fetch", "validate", "detect", "infra", "cluster", "agent", "replay", "verify"} {
		if !names[want] {
			t.Errorf("recovery phases %v lack %q", rto.Phases, want)
		}
	}
	if d := sum - rto.Total; d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("phases add up to %s, the RTO is %s", sum, rto.Total)
	}
	if len(rto.Lanes) != 2 || rto.Critical == "" {
		t.Errorf("lanes %v (critical %q): want one per cluster of the example", rto.Lanes, rto.Critical)
	}
	t.Logf("RTO after a real loss: %s", ev.Result.RTO.Total)
	if !strings.Contains(rec.stderr, "dev-apps: cluster lost") {
		t.Error("detect did not report the lost cluster")
	}
	if v := rk(t, state, nil, "verify", "-b", example, "--env", "dev"); v.code != 0 {
		t.Fatalf("verify after recover: exit %d\n%s", v.code, v.stdout)
	}

	reports := filepath.Join(t.TempDir(), "reports")
	drill := rk(t, state, nil, "drill", "-b", example, "--env", "dev", "--scope", "dev-apps", "--rto", "1s", "--report-dir", reports)
	if drill.code != 1 {
		t.Errorf("drill with a 1s objective: exit %d, want 1", drill.code)
	}
	if !strings.Contains(drill.stderr+drill.stdout, "over the 1s objective") {
		t.Error("the drill does not say by how much the objective was missed")
	}
	for _, f := range []string{"drill.json", "junit.xml", "drill.md"} {
		if _, err := os.Stat(filepath.Join(reports, f)); err != nil {
			t.Errorf("report %s: %v", f, err)
		}
	}
	var junit struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Cases    []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	data, _ := os.ReadFile(filepath.Join(reports, "junit.xml"))
	if err := xml.Unmarshal(data, &junit); err != nil || len(junit.Suites) != 1 {
		t.Fatalf("junit.xml does not parse: %v", err)
	}
	s := junit.Suites[0]
	failed := map[string]bool{}
	for _, c := range s.Cases {
		failed[c.Name] = c.Failure != nil
	}
	if s.Tests != len(s.Cases) || s.Tests < 10 || !failed["rto-objective"] || failed["dev-apps"] {
		t.Errorf("junit: %d tests, failures %v; want the rto-objective case failed and the clusters passed", s.Tests, failed)
	}
}
