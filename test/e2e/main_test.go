package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekindle-dev/rekindle/providers/cluster/kwok"
	"github.com/rekindle-dev/rekindle/test/gitserver"
	"github.com/rekindle-dev/rekindle/test/testenv"
)

// rekindleBin is the binary under test, built once by TestMain.
var rekindleBin string

// skipReason is why these tests cannot run here ("" when they can).
var skipReason string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "rekindle-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	rekindleBin = filepath.Join(dir, "rekindle")
	// Static, as make build does: the agent-as-a-pod test puts it in an image FROM scratch.
	build := exec.Command("go", "build", "-o", rekindleBin, "../../cmd/rekindle")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build rekindle: %v\n%s", err, out)
		return 1
	}
	if _, err := exec.LookPath("terraform"); err != nil {
		skipReason = "terraform is not on PATH (the e2e blueprints provision infra with it)"
	}
	if _, err := kwok.FindBinDir(""); err != nil {
		skipReason = err.Error()
	}
	return m.Run()
}

// needParts skips (locally) or fails (in CI) when the real parts are missing.
func needParts(t *testing.T) {
	t.Helper()
	if skipReason == "" {
		return
	}
	testenv.Need(t, "the end-to-end tests' parts", errors.New(skipReason))
}

// result is one run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

// rk runs rekindle with a state dir and extra environment.
func rk(t *testing.T, stateDir string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, rekindleBin, append([]string{"--state-dir", stateDir}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	default:
		t.Fatalf("run rekindle %v: %v", args, err)
	}
	t.Logf("rekindle %s -> exit %d\nstderr:\n%s", strings.Join(args, " "), res.code, res.stderr)
	return res
}

// blueprintRepo copies a blueprint directory into a new Git repo under
// base/org/name, commits it and returns the repo dir and the commit.
func blueprintRepo(t *testing.T, base, name, from string) (dir, commit string) {
	t.Helper()
	dir = filepath.Join(base, "org", name)
	gitserver.InitRepo(t, dir)
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		gitserver.WriteFile(t, dir, filepath.ToSlash(rel), string(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir, gitserver.Commit(t, dir, "blueprint")
}

// summary parses the JSON summary event of a pipeline run.
type summary struct {
	Env      string `json:"env"`
	Commit   string `json:"commit"`
	Clusters []struct {
		Name       string `json:"name"`
		Kubeconfig string `json:"kubeconfig"`
		APIServer  string `json:"apiServer"`
		Desired    int    `json:"desired"`
		Healthy    int    `json:"healthy"`
		Ready      bool   `json:"ready"`
	} `json:"clusters"`
}

func parseSummary(t *testing.T, stdout string) summary {
	t.Helper()
	for _, line := range strings.Split(stdout, "\n") {
		var ev struct {
			Event   string  `json:"event"`
			Summary summary `json:"summary"`
		}
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Event == "summary" {
			return ev.Summary
		}
	}
	t.Fatalf("no summary event in stdout:\n%s", stdout)
	return summary{}
}

// processesUnder lists running processes whose command line mentions dir.
func processesUnder(dir string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), dir) {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			if f := strings.Fields(string(stat)); len(f) > 2 && f[2] == "Z" {
				continue
			}
		}
		out = append(out, e.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return out
}

// cleanupEnv destroys whatever a test left, so no cluster outlives it.
func cleanupEnv(t *testing.T, stateDir string, env []string, args ...string) {
	t.Cleanup(func() {
		if len(processesUnder(stateDir)) == 0 {
			return
		}
		rk(t, stateDir, env, append([]string{"bootstrap", "destroy"}, args...)...)
		for _, p := range processesUnder(stateDir) {
			t.Errorf("process left running after cleanup: %s", p)
		}
	})
}
